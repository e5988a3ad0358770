//! Lossless Q5_0 → Q8_0 re-encoding at load time.
//!
//! candle has only a scalar dot product for Q5_0, while Q8_0 has SIMD kernels. A Q5_0 block
//! (`d: f16, qh: [u8; 4], qs: [u8; 16]`, weights `d * (q - 16)` with `q` in `0..32`) is exactly
//! a Q8_0 block (`d: f16, qs: [i8; 32]`) with the same scale, so converting changes no weight and
//! no result, only speed (at the cost of 34 instead of 22 bytes per 32 weights).
//!
//! The conversion is done by a reader that presents the GGUF tensor data as if the Q5_0 tensors
//! had been stored as Q8_0, so every architecture's loader benefits without change.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};

use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::GgmlDType;

const Q5_0_BLOCK: usize = 22;
const Q8_0_BLOCK: usize = 34;
const QK: usize = 32;

/// Convert one Q5_0 block into a Q8_0 block.
pub fn q5_0_block_to_q8_0(src: &[u8], dst: &mut [u8]) {
    dst[0] = src[0];
    dst[1] = src[1];
    let qh = u32::from_le_bytes([src[2], src[3], src[4], src[5]]);
    let qs = &src[6..22];
    for j in 0..QK / 2 {
        let x0 = ((qs[j] & 0x0F) as u32 | (((qh >> j) << 4) & 0x10)) as i32 - 16;
        let x1 = ((qs[j] >> 4) as u32 | ((qh >> (j + 12)) & 0x10)) as i32 - 16;
        dst[2 + j] = x0 as i8 as u8;
        dst[2 + j + QK / 2] = x1 as i8 as u8;
    }
}

/// Convert a whole Q5_0 tensor's bytes to Q8_0 bytes.
pub fn q5_0_to_q8_0(src: &[u8]) -> Vec<u8> {
    let blocks = src.len() / Q5_0_BLOCK;
    let mut out = vec![0u8; blocks * Q8_0_BLOCK];
    for (s, d) in src
        .chunks_exact(Q5_0_BLOCK)
        .zip(out.chunks_exact_mut(Q8_0_BLOCK))
    {
        q5_0_block_to_q8_0(s, d);
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    /// Start in the virtual tensor-data space.
    virt_start: u64,
    /// Length in the virtual space.
    virt_len: u64,
    /// Start of the source bytes in the real file.
    file_start: u64,
    /// Whether the source is Q5_0 to be converted.
    convert: bool,
}

/// A reader over a GGUF file that serves its tensors with Q5_0 re-encoded as Q8_0.
///
/// Use it with the [`Content`] returned by [`RequantReader::new`], whose tensor directory has been
/// rewritten to match.
pub struct RequantReader<R> {
    inner: R,
    segments: Vec<Segment>,
    pos: u64,
    end: u64,
    cache: Option<(usize, Vec<u8>)>,
}

impl<R: Read + Seek> RequantReader<R> {
    /// Rewrite `content` for the virtual layout and wrap `inner`. Returns the rewritten content
    /// and the number of tensors converted.
    pub fn new(inner: R, mut content: Content) -> (Content, Self, usize) {
        let base = content.tensor_data_offset;
        // Deterministic order: by original offset.
        let mut order: BTreeMap<u64, String> = BTreeMap::new();
        for (name, info) in content.tensor_infos.iter() {
            order.insert(info.offset, name.clone());
        }
        let mut segments = Vec::with_capacity(order.len());
        let mut virt = 0u64;
        let mut converted = 0;
        for name in order.values() {
            let Some(info) = content.tensor_infos.get_mut(name) else {
                continue;
            };
            let elems = info.shape.elem_count();
            let src_len =
                (elems / info.ggml_dtype.block_size() * info.ggml_dtype.type_size()) as u64;
            let convert = info.ggml_dtype == GgmlDType::Q5_0;
            let virt_len = if convert {
                converted += 1;
                src_len / Q5_0_BLOCK as u64 * Q8_0_BLOCK as u64
            } else {
                src_len
            };
            segments.push(Segment {
                virt_start: virt,
                virt_len,
                file_start: base + info.offset,
                convert,
            });
            info.offset = virt;
            if convert {
                info.ggml_dtype = GgmlDType::Q8_0;
            }
            virt += virt_len;
        }
        content.tensor_data_offset = 0;
        let reader = Self {
            inner,
            segments,
            pos: 0,
            end: virt,
            cache: None,
        };
        (content, reader, converted)
    }

    fn segment_at(&self, pos: u64) -> Option<usize> {
        let idx = self.segments.partition_point(|s| s.virt_start <= pos);
        if idx == 0 {
            return None;
        }
        let s = &self.segments[idx - 1];
        (pos < s.virt_start + s.virt_len).then_some(idx - 1)
    }
}

impl<R: Read + Seek> Read for RequantReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() || self.pos >= self.end {
            return Ok(0);
        }
        let Some(idx) = self.segment_at(self.pos) else {
            // Padding between tensors never exists in the virtual layout; report end of data.
            return Ok(0);
        };
        let seg = self.segments[idx];
        let within = self.pos - seg.virt_start;
        let avail = (seg.virt_len - within) as usize;
        let n = avail.min(buf.len());
        if seg.convert {
            if self.cache.as_ref().map(|(i, _)| *i) != Some(idx) {
                let src_len = seg.virt_len as usize / Q8_0_BLOCK * Q5_0_BLOCK;
                let mut src = vec![0u8; src_len];
                self.inner.seek(SeekFrom::Start(seg.file_start))?;
                self.inner.read_exact(&mut src)?;
                self.cache = Some((idx, q5_0_to_q8_0(&src)));
            }
            if let Some((_, data)) = &self.cache {
                buf[..n].copy_from_slice(&data[within as usize..within as usize + n]);
            }
        } else {
            self.inner.seek(SeekFrom::Start(seg.file_start + within))?;
            self.inner.read_exact(&mut buf[..n])?;
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for RequantReader<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let new = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => self.end as i128 + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if new < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the tensor data",
            ));
        }
        self.pos = new as u64;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dequantise a Q5_0 block the way ggml's reference code does.
    fn deq_q5_0(b: &[u8]) -> Vec<f32> {
        let d = half_to_f32(u16::from_le_bytes([b[0], b[1]]));
        let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
        let mut out = vec![0f32; 32];
        for j in 0..16 {
            let xh0 = ((qh >> j) << 4) & 0x10;
            let xh1 = (qh >> (j + 12)) & 0x10;
            let x0 = ((b[6 + j] & 0x0F) as u32 | xh0) as i32 - 16;
            let x1 = ((b[6 + j] >> 4) as u32 | xh1) as i32 - 16;
            out[j] = x0 as f32 * d;
            out[j + 16] = x1 as f32 * d;
        }
        out
    }

    fn deq_q8_0(b: &[u8]) -> Vec<f32> {
        let d = half_to_f32(u16::from_le_bytes([b[0], b[1]]));
        (0..32).map(|j| (b[2 + j] as i8) as f32 * d).collect()
    }

    fn half_to_f32(h: u16) -> f32 {
        // Normal numbers are enough for the test's scales.
        let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
        let exp = ((h >> 10) & 0x1f) as i32;
        let frac = (h & 0x3ff) as f32;
        if exp == 0 {
            return sign * frac * 2f32.powi(-24);
        }
        sign * (1.0 + frac / 1024.0) * 2f32.powi(exp - 15)
    }

    #[test]
    fn conversion_is_exact_for_every_nibble_and_high_bit() {
        let mut state = 0x1234_5678_9abc_def0u64;
        for _ in 0..200 {
            let mut block = [0u8; 22];
            // scale 0.5 in f16
            block[0] = 0x00;
            block[1] = 0x38;
            for b in block.iter_mut().skip(2) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            let mut out = [0u8; 34];
            q5_0_block_to_q8_0(&block, &mut out);
            assert_eq!(deq_q5_0(&block), deq_q8_0(&out));
        }
    }
}
