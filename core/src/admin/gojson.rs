//! Numbers as Go's `encoding/json` writes a `float64`: whole values without
//! a fraction (`1`, not `1.0`), others in shortest round-trip form.

use serde::{Serialize, Serializer};

/// A float that serialises the way Go would.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GoFloat(pub f64);

impl Serialize for GoFloat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if !v.is_finite() {
            // Go refuses to encode these; 0 keeps the document readable.
            return s.serialize_i64(0);
        }
        if v.fract() == 0.0 && v.abs() < 1e21 {
            return s.serialize_i128(v as i128);
        }
        s.serialize_f64(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_have_no_fraction() {
        let j = |v| serde_json::to_string(&GoFloat(v)).unwrap();
        assert_eq!(j(1.0), "1");
        assert_eq!(j(0.99), "0.99");
        assert_eq!(j(-3.0), "-3");
        assert_eq!(j(1234567.0), "1234567");
        assert_eq!(j(1e19), "10000000000000000000");
        assert_eq!(j(f64::NAN), "0");
    }
}
