//! Errors of the engine (FHIRPath N1 §1.6 "Error handling"): a parse error carries the byte offset
//! where the grammar was violated; an evaluation error says which rule the input broke.

/// A parse or evaluation error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The expression text does not follow the FHIRPath grammar.
    #[error("FHIRPath syntax error at offset {offset}: {message}")]
    Parse {
        /// Byte offset into the expression.
        offset: usize,
        /// What was expected or found.
        message: String,
    },
    /// The expression is well formed but its evaluation is an error per the specification
    /// (e.g. a singleton expected but several items found, incompatible operand types).
    #[error("FHIRPath evaluation error: {0}")]
    Eval(String),
}

impl Error {
    pub(crate) fn parse(offset: usize, message: impl Into<String>) -> Self {
        Error::Parse { offset, message: message.into() }
    }
}

/// Shorthand for an evaluation error.
pub(crate) fn eval_err<T>(message: impl Into<String>) -> std::result::Result<T, Error> {
    Err(Error::Eval(message.into()))
}

pub(crate) type Result<T> = std::result::Result<T, Error>;
