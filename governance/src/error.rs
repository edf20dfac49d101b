//! [`RuleParseError`]: why a rule's text was refused.

/// Why the text of a rule node could not be used. The caller names the node; the previous
/// rules stay in force (as in Java Dubbo).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleParseError {
    /// The text is not YAML (or, for a configurators node, neither YAML nor a JSON array).
    #[error("not valid YAML: {message}")]
    Yaml {
        /// The parser's message, with the line and column.
        message: String,
    },
    /// The text is empty or holds only a comment.
    #[error("the rule is empty")]
    Empty,
    /// A field holds the wrong kind of value.
    #[error("`{field}` should be {expected}, not {found}")]
    WrongType {
        /// The field, as a path (`configs[0].addresses`).
        field: String,
        /// What it should hold.
        expected: &'static str,
        /// What it holds.
        found: String,
    },
    /// A required field is missing or empty.
    #[error("`{field}` is missing or empty")]
    Missing {
        /// The field, as a path.
        field: String,
    },
    /// The rule's `configVersion` is newer than this kind of rule is understood at.
    #[error("configVersion `{version}` is not supported (this kind of rule is read up to {supported})")]
    UnsupportedVersion {
        /// The version the rule declares.
        version: String,
        /// The newest version understood.
        supported: &'static str,
    },
    /// A value that cannot be used (a regular expression that does not compile, an address
    /// that is not one).
    #[error("`{field}`: {message}")]
    Invalid {
        /// The field, as a path.
        field: String,
        /// What is wrong with it.
        message: String,
    },
}
