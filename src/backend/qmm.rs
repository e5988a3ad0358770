//! synthcorpus's own quantised matrix multiplication for x86-64 CPUs with AVX-512 VNNI.
//!
//! candle's CPU kernels multiply quantised weights one activation row at a time with AVX2 dot
//! products, re-reading every weight block for every row of a prompt. This module repacks a
//! weight matrix once, at load time, so that one 512-bit register holds four consecutive weights
//! of sixteen output columns, and multiplies with `vpdpbusd` (u8 × i8 → i32): sixteen columns
//! at a time, several activation rows per weight load, with the integer arithmetic of
//! llama.cpp's kernels (per-block integer dot products, integer scale multiplication within a
//! K-quant super-block, activations quantised exactly as candle and ggml do: Q8_0 for Q8_0
//! weights, Q8_K for K-quants). Results agree with candle's kernels up to the order of float
//! additions.
//!
//! Supported weight types: Q8_0 (and so Q5_0, which the loader re-encodes as Q8_0), Q4_K and
//! Q6_K, with a column count divisible by 16 and a row length divisible by the block size.
//! Anything else, and any CPU without AVX-512 VNNI, keeps candle's [`QMatMul`].
//!
//! Layout of a packed matrix (`n` output columns in groups of 16 lanes, `k` inputs):
//! - Q8_0, per (group, block of 32): 16 f16 scales, then 8 steps × 64 bytes; step `s`, lane
//!   `l` holds `w[l][4s..4s+4] + 128` as u8 (the offset is taken out exactly in integers).
//! - Q4_K, per (group, super-block of 256): `d[16]` f32, `dmin[16]` f32, `scale[8][16]` u8,
//!   `min[8][16]` u8, then per sub-block of 32 four 64-byte vectors whose low nibbles are steps
//!   0-3 and high nibbles steps 4-7.
//! - Q6_K, per (group, super-block): `d[16]` f32, `scale[16][16]` i8, then 64 steps × 64 bytes
//!   of u8 values in 0..64 (the offset 32 is taken out exactly in integers).

use std::borrow::Cow;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use candle_core::quantized::{gguf_file, GgmlDType, QMatMul, QTensor};
use candle_core::{CpuStorage, CustomOp1, Device, Layout, Module, Result, Shape, Tensor};
use half::f16;
use rayon::prelude::*;

/// Columns per group: one 512-bit register of i32 lanes.
const LANES: usize = 16;
const QK8_0: usize = 32;
const QK_K: usize = 256;
/// Bytes per (group, block) of a packed Q8_0 matrix.
const Q8_0_GROUP_BLOCK: usize = LANES * 2 + 8 * 64;
/// Bytes per (group, super-block) of a packed Q4_K matrix.
const Q4_K_GROUP_BLOCK: usize = LANES * 4 * 2 + 8 * LANES * 2 + 8 * 4 * 64;
/// Bytes per (group, super-block) of a packed Q6_K matrix.
const Q6_K_GROUP_BLOCK: usize = LANES * 4 + 16 * LANES + 64 * 64;
/// Activation rows multiplied per pass over a weight group.
const ROW_TILE: usize = 4;

/// The weight encodings this module packs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackedKind {
    /// Blocks of 32, one f16 scale each.
    Q8_0,
    /// Super-blocks of 256: 8 sub-blocks of 32 with 6-bit scales and mins.
    Q4K,
    /// Super-blocks of 256: 16 sub-blocks of 16 with 8-bit scales.
    Q6K,
}

impl PackedKind {
    fn of(dtype: GgmlDType) -> Option<Self> {
        match dtype {
            GgmlDType::Q8_0 => Some(Self::Q8_0),
            GgmlDType::Q4K => Some(Self::Q4K),
            GgmlDType::Q6K => Some(Self::Q6K),
            _ => None,
        }
    }

    fn block(self) -> usize {
        match self {
            Self::Q8_0 => QK8_0,
            Self::Q4K | Self::Q6K => QK_K,
        }
    }

    fn group_block_bytes(self) -> usize {
        match self {
            Self::Q8_0 => Q8_0_GROUP_BLOCK,
            Self::Q4K => Q4_K_GROUP_BLOCK,
            Self::Q6K => Q6_K_GROUP_BLOCK,
        }
    }

    /// Bytes of one native GGML block.
    fn native_block_bytes(self) -> usize {
        match self {
            Self::Q8_0 => 34,
            Self::Q4K => 144,
            Self::Q6K => 210,
        }
    }
}

/// Whether this CPU runs the packed kernels.
pub fn cpu_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether weights are packed: [`cpu_supported`], unless `SYNTHCORPUS_NO_VNNI` is set (which
/// keeps candle's kernels, for comparison).
pub fn packing_enabled() -> bool {
    cpu_supported() && std::env::var_os("SYNTHCORPUS_NO_VNNI").is_none()
}

/// A weight matrix `(n, k)` repacked for the VNNI kernels.
#[derive(Debug)]
pub struct PackedMatrix {
    kind: PackedKind,
    n: usize,
    k: usize,
    data: Vec<u8>,
}

/// Decode the 6-bit scale and min `j` of a Q4_K block (ggml's `get_scale_min_k4`).
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

impl PackedMatrix {
    /// Repack native GGML blocks of a row-major `(n, k)` matrix. `None` when the type or the
    /// shape is not one the kernels handle.
    pub fn pack(dtype: GgmlDType, n: usize, k: usize, raw: &[u8]) -> Option<Self> {
        let mut p = Self::empty(dtype, n, k)?;
        if raw.len() != p.native_bytes() {
            return None;
        }
        p.pack_rows(0, raw);
        Some(p)
    }

    /// A zeroed matrix of the packed size, when the type and shape allow packing.
    fn empty(dtype: GgmlDType, n: usize, k: usize) -> Option<Self> {
        let kind = PackedKind::of(dtype)?;
        let qk = kind.block();
        if n == 0 || k == 0 || !n.is_multiple_of(LANES) || !k.is_multiple_of(qk) {
            return None;
        }
        let len = (n / LANES) * (k / qk) * kind.group_block_bytes();
        let data = vec![0u8; len];
        advise_huge_pages(&data);
        Some(Self { kind, n, k, data })
    }

    /// Bytes of the matrix in its native GGML encoding.
    fn native_bytes(&self) -> usize {
        self.n * self.native_row_bytes()
    }

    fn native_row_bytes(&self) -> usize {
        (self.k / self.kind.block()) * self.kind.native_block_bytes()
    }

    /// Pack whole groups of native rows starting at row `first` (a multiple of 16).
    fn pack_rows(&mut self, first: usize, raw: &[u8]) {
        let kind = self.kind;
        let nb = self.k / kind.block();
        let gb = kind.group_block_bytes();
        let nbb = kind.native_block_bytes();
        let row_bytes = self.native_row_bytes();
        let groups = raw.len() / row_bytes / LANES;
        let g0 = first / LANES;
        self.data[g0 * nb * gb..(g0 + groups) * nb * gb]
            .par_chunks_mut(nb * gb)
            .enumerate()
            .for_each(|(g, out)| {
                for b in 0..nb {
                    let dst = &mut out[b * gb..(b + 1) * gb];
                    for lane in 0..LANES {
                        let at = (g * LANES + lane) * row_bytes + b * nbb;
                        let src = &raw[at..at + nbb];
                        match kind {
                            PackedKind::Q8_0 => pack_q8_0_lane(src, lane, dst),
                            PackedKind::Q4K => pack_q4k_lane(src, lane, dst),
                            PackedKind::Q6K => pack_q6k_lane(src, lane, dst),
                        }
                    }
                }
            });
    }

    /// Pack a tensor straight from a GGUF file, a few rows at a time, so that its native bytes
    /// are never held whole beside the packed copy (the 178 MB token embedding of Gemma 3 270M
    /// would otherwise double for a moment). `Ok(None)` when the tensor cannot be packed here
    /// (see [`pack_tensor`]).
    pub fn from_gguf<R: Read + Seek>(
        ct: &gguf_file::Content,
        reader: &mut R,
        name: &str,
    ) -> Result<Option<Self>> {
        let Some(info) = ct.tensor_infos.get(name) else {
            candle_core::bail!("cannot find tensor info for {name}");
        };
        if !packing_enabled() {
            return Ok(None);
        }
        let Ok((n, k)) = info.shape.dims2() else {
            return Ok(None);
        };
        let Some(mut p) = Self::empty(info.ggml_dtype, n, k) else {
            return Ok(None);
        };
        let start = ct.tensor_data_offset.saturating_add(info.offset);
        let file_size = reader.seek(SeekFrom::End(0))?;
        if (p.native_bytes() as u64) > file_size.saturating_sub(start) {
            candle_core::bail!("tensor {name} extends past the end of the file");
        }
        reader.seek(SeekFrom::Start(start))?;
        let rows_per_read = LANES * 64;
        let mut buf = vec![0u8; rows_per_read * p.native_row_bytes()];
        let mut row = 0;
        while row < n {
            let rows = rows_per_read.min(n - row);
            let chunk = &mut buf[..rows * p.native_row_bytes()];
            reader.read_exact(chunk)?;
            p.pack_rows(row, chunk);
            row += rows;
        }
        Ok(Some(p))
    }

    /// Output columns.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Inputs per column.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The weight encoding.
    pub fn kind(&self) -> PackedKind {
        self.kind
    }

    /// Bytes held.
    pub fn size_in_bytes(&self) -> usize {
        self.data.len()
    }

    fn group(&self, g: usize) -> &[u8] {
        let len = (self.k / self.kind.block()) * self.kind.group_block_bytes();
        &self.data[g * len..(g + 1) * len]
    }

    /// Dequantise row `row` of the weight matrix (output column `row`) into `out` (`k` values).
    pub fn dequantize_row(&self, row: usize, out: &mut [f32]) {
        let (g, lane) = (row / LANES, row % LANES);
        let data = self.group(g);
        let gb = self.kind.group_block_bytes();
        match self.kind {
            PackedKind::Q8_0 => {
                for (b, o) in out.chunks_exact_mut(QK8_0).enumerate() {
                    let blk = &data[b * gb..(b + 1) * gb];
                    let d = f16_at(blk, lane * 2);
                    for (i, v) in o.iter_mut().enumerate() {
                        let q = blk[32 + (i / 4) * 64 + lane * 4 + i % 4] as i32 - 128;
                        *v = d * q as f32;
                    }
                }
            }
            PackedKind::Q4K => {
                for (s, o) in out.chunks_exact_mut(QK_K).enumerate() {
                    let blk = &data[s * gb..(s + 1) * gb];
                    let d = f32_at(blk, lane * 4);
                    let dmin = f32_at(blk, 64 + lane * 4);
                    for j in 0..8 {
                        let sc = blk[128 + j * LANES + lane] as f32;
                        let m = blk[256 + j * LANES + lane] as f32;
                        for i in 0..32 {
                            let (p, hi) = ((i / 4) % 4, i >= 16);
                            let byte = blk[384 + j * 256 + p * 64 + lane * 4 + i % 4];
                            let q = if hi { byte >> 4 } else { byte & 0xF };
                            o[j * 32 + i] = d * sc * q as f32 - dmin * m;
                        }
                    }
                }
            }
            PackedKind::Q6K => {
                for (s, o) in out.chunks_exact_mut(QK_K).enumerate() {
                    let blk = &data[s * gb..(s + 1) * gb];
                    let d = f32_at(blk, lane * 4);
                    for (i, v) in o.iter_mut().enumerate() {
                        let sc = blk[64 + (i / 16) * LANES + lane] as i8 as f32;
                        let q = blk[320 + (i / 4) * 64 + lane * 4 + i % 4] as i32 - 32;
                        *v = d * sc * q as f32;
                    }
                }
            }
        }
    }

    /// `out (m, n) = x (m, k) · Wᵀ`. Needs [`cpu_supported`].
    pub fn matmul(&self, x: &[f32], m: usize, out: &mut [f32]) {
        assert_eq!(x.len(), m * self.k, "packed matmul: input length");
        assert_eq!(out.len(), m * self.n, "packed matmul: output length");
        assert!(cpu_supported(), "packed matmul needs AVX-512 VNNI");
        if m == 0 {
            return;
        }
        let act = Activations::quantize(self.kind, x, m, self.k);
        let groups = self.n / LANES;
        let out_ptr = SendPtr(out.as_mut_ptr());
        let n = self.n;
        let work = |range: std::ops::Range<usize>| {
            let out_ptr = &out_ptr;
            for g in range {
                let w = self.group(g);
                let mut r0 = 0;
                while r0 < m {
                    let rows = (m - r0).min(ROW_TILE);
                    let mut tile = [[0f32; LANES]; ROW_TILE];
                    // SAFETY: cpu_supported() was checked above.
                    unsafe { kernel(self.kind, w, &act, r0, rows, &mut tile) };
                    for (r, vals) in tile.iter().take(rows).enumerate() {
                        // SAFETY: each (row, group) tile of `out` is written by exactly one work
                        // item, and it lies inside `out` (m × n, n = groups × LANES).
                        unsafe {
                            let dst = out_ptr.0.add((r0 + r) * n + g * LANES);
                            std::ptr::copy_nonoverlapping(vals.as_ptr(), dst, LANES);
                        }
                    }
                    r0 += rows;
                }
            }
        };
        if m * n * self.k < parallel_threshold() {
            // Small products (every layer of a 270M model while generating) run on the calling
            // thread: a fork-join costs more than it saves, and on a busy machine every
            // synchronisation can wait for a descheduled thread.
            work(0..groups);
        } else {
            // candle's fork-join pool (its workers spin briefly between calls): a shared
            // cursor over column groups.
            candle_core::utils::barrier_pool().execute_chunked(groups, work);
        }
    }
}

/// Multiply-accumulates below which a product runs on one thread
/// (`SYNTHCORPUS_QMM_PARALLEL_MIN`, default 4 M).
fn parallel_threshold() -> usize {
    static T: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *T.get_or_init(|| {
        std::env::var("SYNTHCORPUS_QMM_PARALLEL_MIN")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4 << 20)
    })
}

/// Ask Linux for transparent huge pages under a large, not yet touched buffer: generation
/// streams every weight once per token, and 2 MiB pages spare the TLB misses of 4 KiB ones.
fn advise_huge_pages(buf: &[u8]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = buf.as_ptr() as usize;
        let aligned = start.next_multiple_of(HUGE);
        let end = (start + buf.len()) / HUGE * HUGE;
        if end > aligned {
            // SAFETY: the range lies inside `buf`'s allocation; MADV_HUGEPAGE changes no
            // contents, only how the kernel backs the pages.
            unsafe {
                libc::madvise(
                    aligned as *mut libc::c_void,
                    end - aligned,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buf;
}

fn f32_at(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn put_f32(dst: &mut [u8], at: usize, v: f32) {
    dst[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn pack_q8_0_lane(src: &[u8], lane: usize, dst: &mut [u8]) {
    dst[lane * 2..lane * 2 + 2].copy_from_slice(&src[..2]);
    // (q as i8 + 128) as u8 is the byte with its top bit flipped.
    for (s, q) in src[2..34].chunks_exact(4).enumerate() {
        let v = u32::from_le_bytes([q[0], q[1], q[2], q[3]]) ^ 0x8080_8080;
        let at = 32 + s * 64 + lane * 4;
        dst[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
}

fn pack_q4k_lane(src: &[u8], lane: usize, dst: &mut [u8]) {
    // block_q4_K: d f16, dmin f16, scales [12], qs [128]
    put_f32(dst, lane * 4, f16_at(src, 0));
    put_f32(dst, 64 + lane * 4, f16_at(src, 2));
    let scales = &src[4..16];
    let qs = &src[16..144];
    for j in 0..8 {
        let (sc, m) = scale_min_k4(j, scales);
        dst[128 + j * LANES + lane] = sc;
        dst[256 + j * LANES + lane] = m;
    }
    // Sub-block j: elements 32j..32j+32. ggml stores pairs of sub-blocks in 32 bytes: the low
    // nibbles are sub-block 2p, the high nibbles sub-block 2p + 1.
    for j in 0..8 {
        for i in 0..32 {
            let byte = qs[(j / 2) * 32 + i];
            let q = if j % 2 == 0 { byte & 0xF } else { byte >> 4 };
            let (p, hi) = ((i / 4) % 4, i >= 16);
            let at = 384 + j * 256 + p * 64 + lane * 4 + i % 4;
            dst[at] |= if hi { q << 4 } else { q };
        }
    }
}

fn pack_q6k_lane(src: &[u8], lane: usize, dst: &mut [u8]) {
    // block_q6_K: ql [128], qh [64], scales [16] i8, d f16
    let ql = &src[0..128];
    let qh = &src[128..192];
    let sc = &src[192..208];
    put_f32(dst, lane * 4, f16_at(src, 208));
    for (j, &s) in sc.iter().enumerate() {
        dst[64 + j * LANES + lane] = s;
    }
    let mut q = [0u8; QK_K];
    for half in 0..2 {
        let (ql, qh) = (&ql[half * 64..], &qh[half * 32..]);
        for l in 0..32 {
            let base = half * 128;
            q[base + l] = (ql[l] & 0xF) | ((qh[l] & 3) << 4);
            q[base + l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
            q[base + l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
            q[base + l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
        }
    }
    for (i, &v) in q.iter().enumerate() {
        dst[320 + (i / 4) * 64 + lane * 4 + i % 4] = v;
    }
}

/// Quantised activation rows, as candle and ggml quantise them for the weight type.
struct Activations {
    /// `m × k` quantised values.
    q: Vec<i8>,
    /// Per block (Q8_0) or super-block (Q8_K): the scale.
    scale: Vec<f32>,
    /// Q8_0: `-128 × Σq` per block. Q8_K: the sums of each 16 values (`k / 16` per row).
    sums: Vec<i32>,
    k: usize,
}

impl Activations {
    fn quantize(kind: PackedKind, x: &[f32], m: usize, k: usize) -> Self {
        let mut q = vec![0i8; m * k];
        match kind {
            PackedKind::Q8_0 => {
                let nb = m * k / QK8_0;
                let mut scale = vec![0f32; nb];
                let mut sums = vec![0i32; nb];
                for (b, (xs, qs)) in x
                    .chunks_exact(QK8_0)
                    .zip(q.chunks_exact_mut(QK8_0))
                    .enumerate()
                {
                    // As candle's BlockQ8_0::from_float (and ggml's reference).
                    let amax = xs.iter().fold(0f32, |a, &v| a.max(v.abs()));
                    let d = amax / 127.0;
                    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
                    scale[b] = f16::from_f32(d).to_f32();
                    let mut s = 0i32;
                    for (o, &v) in qs.iter_mut().zip(xs) {
                        *o = (v * id).round() as i8;
                        s += *o as i32;
                    }
                    sums[b] = -128 * s;
                }
                Self { q, scale, sums, k }
            }
            PackedKind::Q4K | PackedKind::Q6K => {
                let nb = m * k / QK_K;
                let mut scale = vec![0f32; nb];
                let mut sums = vec![0i32; m * k / 16];
                for (b, (xs, qs)) in x
                    .chunks_exact(QK_K)
                    .zip(q.chunks_exact_mut(QK_K))
                    .enumerate()
                {
                    // As candle's BlockQ8K::from_float (and ggml's quantize_row_q8_K_ref).
                    let (mut max, mut amax) = (0f32, 0f32);
                    for &v in xs {
                        if amax < v.abs() {
                            amax = v.abs();
                            max = v;
                        }
                    }
                    if amax == 0.0 {
                        continue;
                    }
                    let iscale = -127f32 / max;
                    for (o, &v) in qs.iter_mut().zip(xs) {
                        *o = (iscale * v).round().clamp(-128.0, 127.0) as i8;
                    }
                    for (j, c) in qs.chunks_exact(16).enumerate() {
                        sums[b * 16 + j] = c.iter().map(|&v| v as i32).sum();
                    }
                    scale[b] = 1.0 / iscale;
                }
                Self { q, scale, sums, k }
            }
        }
    }
}

struct SendPtr(*mut f32);
// SAFETY: the pointer is only used for disjoint writes (see `matmul`).
unsafe impl Sync for SendPtr {}
unsafe impl Send for SendPtr {}

/// Multiply `rows` activation rows from `r0` with one weight group into `out`.
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VNNI.
unsafe fn kernel(
    kind: PackedKind,
    w: &[u8],
    act: &Activations,
    r0: usize,
    rows: usize,
    out: &mut [[f32; LANES]; ROW_TILE],
) {
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! dispatch {
            ($f:ident) => {
                match rows {
                    1 => x86::$f::<1>(w, act, r0, out),
                    2 => x86::$f::<2>(w, act, r0, out),
                    3 => x86::$f::<3>(w, act, r0, out),
                    _ => x86::$f::<4>(w, act, r0, out),
                }
            };
        }
        match kind {
            PackedKind::Q8_0 => dispatch!(q8_0),
            PackedKind::Q4K => dispatch!(q4k),
            PackedKind::Q6K => dispatch!(q6k),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (kind, w, act, r0, rows, out);
        unreachable!("packed kernels are only built for x86-64");
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn bcast4(q: &[i8], at: usize) -> __m512i {
        _mm512_set1_epi32(std::ptr::read_unaligned(q.as_ptr().add(at) as *const i32))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn q8_0<const R: usize>(
        w: &[u8],
        act: &Activations,
        r0: usize,
        out: &mut [[f32; LANES]; ROW_TILE],
    ) {
        let k = act.k;
        let nb = k / QK8_0;
        let mut acc = [_mm512_setzero_ps(); R];
        let wp = w.as_ptr();
        for b in 0..nb {
            let blk = wp.add(b * Q8_0_GROUP_BLOCK);
            let dw = _mm512_cvtph_ps(_mm256_loadu_si256(blk as *const __m256i));
            let mut idot = [_mm512_setzero_si512(); R];
            for (r, d) in idot.iter_mut().enumerate() {
                *d = _mm512_set1_epi32(act.sums[(r0 + r) * nb + b]);
            }
            for s in 0..8 {
                let v = _mm512_loadu_si512(blk.add(32 + s * 64) as *const __m512i);
                for (r, d) in idot.iter_mut().enumerate() {
                    let a = bcast4(&act.q, (r0 + r) * k + b * QK8_0 + s * 4);
                    *d = _mm512_dpbusd_epi32(*d, v, a);
                }
            }
            for r in 0..R {
                let sa = _mm512_set1_ps(act.scale[(r0 + r) * nb + b]);
                acc[r] =
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(idot[r]), _mm512_mul_ps(dw, sa), acc[r]);
            }
        }
        for r in 0..R {
            _mm512_storeu_ps(out[r].as_mut_ptr(), acc[r]);
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn q4k<const R: usize>(
        w: &[u8],
        act: &Activations,
        r0: usize,
        out: &mut [[f32; LANES]; ROW_TILE],
    ) {
        let k = act.k;
        let ns = k / QK_K;
        let mut acc = [_mm512_setzero_ps(); R];
        let wp = w.as_ptr();
        let low = _mm512_set1_epi8(0x0F);
        for s in 0..ns {
            let blk = wp.add(s * Q4_K_GROUP_BLOCK);
            let d = _mm512_loadu_ps(blk as *const f32);
            let dmin = _mm512_loadu_ps(blk.add(64) as *const f32);
            let mut isum = [_mm512_setzero_si512(); R];
            let mut imin = [_mm512_setzero_si512(); R];
            for j in 0..8 {
                let sc = _mm512_cvtepu8_epi32(_mm_loadu_si128(
                    blk.add(128 + j * LANES) as *const __m128i
                ));
                let mn = _mm512_cvtepu8_epi32(_mm_loadu_si128(
                    blk.add(256 + j * LANES) as *const __m128i
                ));
                let mut idot = [_mm512_setzero_si512(); R];
                for p in 0..4 {
                    let v = _mm512_loadu_si512(blk.add(384 + j * 256 + p * 64) as *const __m512i);
                    let lo = _mm512_and_si512(v, low);
                    let hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
                    for (r, dt) in idot.iter_mut().enumerate() {
                        let base = (r0 + r) * k + s * QK_K + j * 32;
                        *dt = _mm512_dpbusd_epi32(*dt, lo, bcast4(&act.q, base + p * 4));
                        *dt = _mm512_dpbusd_epi32(*dt, hi, bcast4(&act.q, base + 16 + p * 4));
                    }
                }
                for r in 0..R {
                    isum[r] = _mm512_add_epi32(isum[r], _mm512_mullo_epi32(idot[r], sc));
                    let bs = (r0 + r) * (k / 16) + s * 16 + j * 2;
                    let sum32 = act.sums[bs] + act.sums[bs + 1];
                    imin[r] =
                        _mm512_add_epi32(imin[r], _mm512_mullo_epi32(mn, _mm512_set1_epi32(sum32)));
                }
            }
            for r in 0..R {
                let sa = _mm512_set1_ps(act.scale[(r0 + r) * ns + s]);
                acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), _mm512_mul_ps(d, sa), acc[r]);
                acc[r] =
                    _mm512_fnmadd_ps(_mm512_cvtepi32_ps(imin[r]), _mm512_mul_ps(dmin, sa), acc[r]);
            }
        }
        for r in 0..R {
            _mm512_storeu_ps(out[r].as_mut_ptr(), acc[r]);
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn q6k<const R: usize>(
        w: &[u8],
        act: &Activations,
        r0: usize,
        out: &mut [[f32; LANES]; ROW_TILE],
    ) {
        let k = act.k;
        let ns = k / QK_K;
        let mut acc = [_mm512_setzero_ps(); R];
        let wp = w.as_ptr();
        for s in 0..ns {
            let blk = wp.add(s * Q6_K_GROUP_BLOCK);
            let d = _mm512_loadu_ps(blk as *const f32);
            let mut isum = [_mm512_setzero_si512(); R];
            for j in 0..16 {
                let sc = _mm512_cvtepi8_epi32(_mm_loadu_si128(
                    blk.add(64 + j * LANES) as *const __m128i
                ));
                let mut idot = [_mm512_setzero_si512(); R];
                for (r, dt) in idot.iter_mut().enumerate() {
                    *dt = _mm512_set1_epi32(-32 * act.sums[(r0 + r) * (k / 16) + s * 16 + j]);
                }
                for p in 0..4 {
                    let v = _mm512_loadu_si512(blk.add(320 + (j * 4 + p) * 64) as *const __m512i);
                    for (r, dt) in idot.iter_mut().enumerate() {
                        let at = (r0 + r) * k + s * QK_K + j * 16 + p * 4;
                        *dt = _mm512_dpbusd_epi32(*dt, v, bcast4(&act.q, at));
                    }
                }
                for r in 0..R {
                    isum[r] = _mm512_add_epi32(isum[r], _mm512_mullo_epi32(idot[r], sc));
                }
            }
            for r in 0..R {
                let sa = _mm512_set1_ps(act.scale[(r0 + r) * ns + s]);
                acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), _mm512_mul_ps(d, sa), acc[r]);
            }
        }
        for r in 0..R {
            _mm512_storeu_ps(out[r].as_mut_ptr(), acc[r]);
        }
    }
}

/// A linear layer without bias: the packed kernels where they apply, candle's otherwise.
#[derive(Debug, Clone)]
pub enum QLinear {
    /// Repacked for the VNNI kernels.
    Packed(Arc<PackedMatrix>),
    /// candle's quantised matmul.
    Candle(QMatMul),
}

impl QLinear {
    /// Wrap a quantised `(n, k)` weight; pack it when the CPU, the type and the shape allow.
    pub fn new(t: Arc<QTensor>) -> Result<Self> {
        if let Some(p) = pack_tensor(&t)? {
            return Ok(Self::Packed(Arc::new(p)));
        }
        Ok(Self::Candle(QMatMul::from_arc(t)?))
    }

    /// Wrap an already packed matrix.
    pub fn from_packed(p: Arc<PackedMatrix>) -> Self {
        Self::Packed(p)
    }
}

/// The token embedding: packed for the VNNI kernels (then shareable with a tied output
/// projection) or candle's quantised tensor (rows dequantised on lookup either way).
#[derive(Debug, Clone)]
pub enum QEmbedding {
    /// Repacked for the VNNI kernels.
    Packed(Arc<PackedMatrix>),
    /// candle's quantised tensor.
    Candle(Arc<QTensor>),
}

impl QEmbedding {
    /// The rows of `ids`: `(ids…, k)` f32.
    pub fn lookup(&self, ids: &Tensor) -> Result<Tensor> {
        match self {
            Self::Packed(p) => embedding(p, ids),
            Self::Candle(t) => t.embedding(ids),
        }
    }

    /// The same weights as an output projection (tied embeddings).
    pub fn as_linear(&self) -> Result<QLinear> {
        Ok(match self {
            Self::Packed(p) => QLinear::from_packed(p.clone()),
            Self::Candle(t) => QLinear::Candle(QMatMul::from_arc(t.clone())?),
        })
    }
}

/// Loads weights from a GGUF: packed straight from the file when [`packing_enabled`] and the
/// device is the CPU and the type and shape allow, candle's quantised tensors otherwise.
pub struct WeightLoader<'a> {
    ct: &'a gguf_file::Content,
    device: &'a Device,
}

impl<'a> WeightLoader<'a> {
    /// A loader over a parsed GGUF.
    pub fn new(ct: &'a gguf_file::Content, device: &'a Device) -> Self {
        Self { ct, device }
    }

    fn packed<R: Read + Seek>(
        &self,
        reader: &mut R,
        name: &str,
    ) -> Result<Option<Arc<PackedMatrix>>> {
        if !self.device.is_cpu() {
            return Ok(None);
        }
        Ok(PackedMatrix::from_gguf(self.ct, reader, name)?.map(Arc::new))
    }

    /// A linear layer.
    pub fn linear<R: Read + Seek>(&self, reader: &mut R, name: &str) -> Result<QLinear> {
        match self.packed(reader, name)? {
            Some(p) => Ok(QLinear::from_packed(p)),
            None => QLinear::new(Arc::new(self.ct.tensor(reader, name, self.device)?)),
        }
    }

    /// A token embedding.
    pub fn embedding<R: Read + Seek>(&self, reader: &mut R, name: &str) -> Result<QEmbedding> {
        Ok(match self.packed(reader, name)? {
            Some(p) => QEmbedding::Packed(p),
            None => QEmbedding::Candle(Arc::new(self.ct.tensor(reader, name, self.device)?)),
        })
    }
}

/// Pack a quantised 2-D CPU tensor, when [`cpu_supported`] and the type and shape allow.
pub fn pack_tensor(t: &QTensor) -> Result<Option<PackedMatrix>> {
    if !packing_enabled() || !t.device().is_cpu() {
        return Ok(None);
    }
    let Ok((n, k)) = t.shape().dims2() else {
        return Ok(None);
    };
    if PackedKind::of(t.dtype()).is_none() {
        return Ok(None);
    }
    let raw: Cow<'_, [u8]> = t.data()?;
    Ok(PackedMatrix::pack(t.dtype(), n, k, &raw))
}

impl Module for QLinear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::Candle(m) => m.forward(x),
            Self::Packed(p) => {
                let x = if x.dtype() == candle_core::DType::F32 {
                    x.contiguous()?
                } else {
                    x.to_dtype(candle_core::DType::F32)?.contiguous()?
                };
                x.apply_op1_no_bwd(&PackedOp(p.clone()))
            }
        }
    }
}

struct PackedOp(Arc<PackedMatrix>);

impl CustomOp1 for PackedOp {
    fn name(&self) -> &'static str {
        "synthcorpus-packed-qmatmul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let p = &self.0;
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("packed matmul: the input is not contiguous");
        };
        let x = &storage.as_slice::<f32>()?[start..end];
        let dims = layout.shape().dims();
        let Some((&k, lead)) = dims.split_last() else {
            candle_core::bail!("packed matmul: a scalar input");
        };
        if k != p.k {
            candle_core::bail!("packed matmul: input width {k}, weights expect {}", p.k);
        }
        let m: usize = lead.iter().product();
        let mut out = vec![0f32; m * p.n];
        p.matmul(x, m, &mut out);
        let mut shape = lead.to_vec();
        shape.push(p.n);
        Ok((CpuStorage::F32(out), Shape::from(shape)))
    }
}

/// Token embedding rows from a packed matrix: `(ids…, k)` f32.
pub fn embedding(p: &PackedMatrix, ids: &Tensor) -> Result<Tensor> {
    let dims = ids.dims().to_vec();
    let flat: Vec<u32> = ids.flatten_all()?.to_vec1()?;
    let mut out = vec![0f32; flat.len() * p.k];
    for (i, &id) in flat.iter().enumerate() {
        let id = id as usize;
        if id >= p.n {
            candle_core::bail!("token id {id} is outside the embedding of {} rows", p.n);
        }
        p.dequantize_row(id, &mut out[i * p.k..(i + 1) * p.k]);
    }
    let mut shape = dims;
    shape.push(p.k);
    Tensor::from_vec(out, shape, &Device::Cpu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    fn check(dtype: GgmlDType, n: usize, k: usize, m: usize) {
        if !cpu_supported() {
            eprintln!("skipped: this CPU has no AVX-512 VNNI");
            return;
        }
        let w = Tensor::from_vec(random(n * k, 1), (n, k), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, dtype).unwrap();
        let packed = pack_tensor(&q).unwrap().expect("packable");
        // Dequantised rows equal candle's.
        let deq = q.dequantize(&Device::Cpu).unwrap();
        let deq: Vec<Vec<f32>> = deq.to_vec2().unwrap();
        let mut row = vec![0f32; k];
        for r in [0, 1, n / 2, n - 1] {
            packed.dequantize_row(r, &mut row);
            assert_eq!(row, deq[r], "{dtype:?} row {r}");
        }
        // Products equal candle's quantised matmul up to float summation order.
        let x = Tensor::from_vec(random(m * k, 2), (m, k), &Device::Cpu).unwrap();
        let ours: Vec<Vec<f32>> = QLinear::from_packed(Arc::new(packed))
            .forward(&x)
            .unwrap()
            .to_vec2()
            .unwrap();
        let theirs: Vec<Vec<f32>> = QMatMul::from_qtensor(q)
            .unwrap()
            .forward(&x)
            .unwrap()
            .to_vec2()
            .unwrap();
        let scale = theirs.iter().flatten().fold(0f32, |a, v| a.max(v.abs()));
        for (a, b) in ours.iter().flatten().zip(theirs.iter().flatten()) {
            assert!(
                (a - b).abs() <= 1e-5 * scale.max(1.0),
                "{dtype:?}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn q8_0_matches_candle() {
        for m in [1, 2, 3, 4, 5, 9] {
            check(GgmlDType::Q8_0, 48, 96, m);
        }
        check(GgmlDType::Q8_0, 256, 640, 7);
    }

    #[test]
    fn q4k_matches_candle() {
        for m in [1, 3, 4, 6] {
            check(GgmlDType::Q4K, 32, 512, m);
        }
        check(GgmlDType::Q4K, 640, 1024, 5);
    }

    #[test]
    fn q6k_matches_candle() {
        for m in [1, 2, 4, 7] {
            check(GgmlDType::Q6K, 32, 512, m);
        }
        check(GgmlDType::Q6K, 640, 2048, 3);
    }

    #[test]
    fn unsupported_shapes_are_not_packed() {
        let raw = vec![0u8; 34 * 10];
        assert!(PackedMatrix::pack(GgmlDType::Q8_0, 10, 32, &raw).is_none());
        assert!(PackedMatrix::pack(GgmlDType::Q4_0, 16, 32, &raw).is_none());
        assert!(PackedMatrix::pack(GgmlDType::Q8_0, 16, 32, &raw).is_none());
    }
}
