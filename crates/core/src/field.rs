//! The one validation error shape.

/// A value that failed its rule. `field` names the input field (so a client
/// can point at it); `message` says what is wrong, in plain English.
///
/// Every domain crate reports bad input with this type, and the API turns it
/// into one wire shape (`{"code": "validation_error", "field": …}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The input field the value came from (e.g. `"nickname"`).
    pub field: &'static str,
    /// What is wrong, in English.
    pub message: String,
    /// The value is fine on its own but disagrees with another field or
    /// with the current state (a reserve below the start price, an end
    /// already past): the API answers 422 instead of 400.
    pub inconsistent: bool,
}

impl FieldError {
    /// An error for `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
            inconsistent: false,
        }
    }

    /// A value valid on its own that disagrees with another field or with
    /// the current state.
    pub fn inconsistent(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            inconsistent: true,
            ..Self::new(field, message)
        }
    }

    /// The same complaint about another field (a rule shared by several
    /// fields reports under the one the caller parsed).
    #[must_use]
    pub fn for_field(self, field: &'static str) -> Self {
        Self { field, ..self }
    }
}
