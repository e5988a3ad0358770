//! [`ScoreMap`]: the small ordered map a sample's annotations live in.
//!
//! A sample carries a few stages' scores, a handful to a few dozen names each, written once
//! and read a few times. A sorted vector holds them in one allocation (a `BTreeMap` of 26
//! quality scores takes four, and as many frees), keeps the same order (by name, so the output
//! is deterministic and matches what a `BTreeMap` wrote) and finds a name by binary search.

use std::borrow::{Borrow, Cow};

use serde::ser::{Serialize, SerializeMap, Serializer};

/// A stage name or score name in a [`ScoreMap`]: borrowed for the names the stages know in
/// advance (so that annotating a sample allocates no keys), owned otherwise.
pub type AnnotationKey = Cow<'static, str>;

/// A map from [`AnnotationKey`] to `V`, sorted by key, serialised as a JSON object in that order.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreMap<V> {
    entries: Vec<(AnnotationKey, V)>,
}

impl<V> Default for ScoreMap<V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<V> ScoreMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(k, _)| Borrow::<str>::borrow(k).cmp(key))
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// Whether `key` is in the map.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Set `key` to `value`; the value it replaces, if any.
    pub fn insert(&mut self, key: AnnotationKey, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// The value under `key`, inserted as `V::default()` when missing.
    pub fn get_or_default(&mut self, key: AnnotationKey) -> &mut V
    where
        V: Default,
    {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, V::default()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&AnnotationKey, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Values in key order, mutable.
    pub fn values_mut(&mut self) -> impl ExactSizeIterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<V> FromIterator<(AnnotationKey, V)> for ScoreMap<V> {
    /// Later entries replace earlier ones with the same key, as in a `BTreeMap`.
    fn from_iter<I: IntoIterator<Item = (AnnotationKey, V)>>(iter: I) -> Self {
        let mut m = Self::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

impl<V: Serialize> Serialize for ScoreMap<V> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            m.serialize_entry(k.as_ref(), v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn sorted_lookup_and_replace() {
        let mut m = ScoreMap::new();
        assert!(m.is_empty());
        assert_eq!(m.insert(Cow::Borrowed("b"), 2), None);
        assert_eq!(m.insert(Cow::Owned("a".to_string()), 1), None);
        assert_eq!(m.insert(Cow::Borrowed("b"), 3), Some(2));
        *m.get_or_default(Cow::Borrowed("c")) += 5;
        *m.get_or_default(Cow::Borrowed("a")) += 10;
        assert_eq!(m.get("a"), Some(&11));
        assert_eq!(m.get("b"), Some(&3));
        assert!(m.contains_key("c") && !m.contains_key("d"));
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(m.len(), 3);
        assert_eq!(
            serde_json::to_string(&m).ok().as_deref(),
            Some(r#"{"a":11,"b":3,"c":5}"#)
        );
    }

    proptest! {
        /// The same contents, order and JSON as a `BTreeMap` given the same inserts.
        #[test]
        fn same_as_a_btreemap(ops in prop::collection::vec(("[a-e]{0,3}", 0u8..10), 0..40)) {
            let mut ours = ScoreMap::new();
            let mut theirs = BTreeMap::new();
            for (k, v) in &ops {
                prop_assert_eq!(ours.insert(Cow::Owned(k.clone()), *v), theirs.insert(k.clone(), *v));
            }
            let a: Vec<(String, u8)> = ours.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            let b: Vec<(String, u8)> = theirs.iter().map(|(k, v)| (k.clone(), *v)).collect();
            prop_assert_eq!(a, b);
            prop_assert_eq!(serde_json::to_string(&ours).ok(), serde_json::to_string(&theirs).ok());
        }
    }
}
