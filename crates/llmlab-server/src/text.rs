//! Text the database can store: every string a client gives that is stored or compared
//! in SQL passes [`check`] at the edge. PostgreSQL refuses NUL in `TEXT` (an error, which
//! would be a 500), and control characters in names, tags or ids only ever break the
//! logs, CSV files and dashboards that show them later.

use crate::error::ApiError;

/// `Ok` when `value` holds no control character (C0, DEL, C1); else a 422 naming `field`.
pub fn check(field: &str, value: &str) -> Result<(), ApiError> {
    match value.chars().find(|c| c.is_control()) {
        None => Ok(()),
        Some(c) => Err(ApiError::validation(
            field,
            format!(
                "must not contain control characters (found U+{:04X})",
                u32::from(c)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn control_characters_are_refused() {
        assert!(check("name", "monthly budget ✓").is_ok());
        for bad in [
            "a\u{0}b",
            "tab\there",
            "line\nbreak",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            let e = check("name", bad).expect_err(bad);
            assert_eq!(e.status.as_u16(), 422);
            assert_eq!(e.details.expect("details")["field"], "name");
        }
    }
}
