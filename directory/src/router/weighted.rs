//! Dubbo 3.3's v3.1 condition rule (`MultiDestConditionRouter`): for consumers matching
//! `from`, one of the `to` destinations that leave some provider, picked at random by weight
//! on every call; when none leaves a provider, nothing if the rule is `force`, else every
//! provider.

use std::sync::Arc;

use zkdubbo_common::{Invocation, Url};

use crate::error::RuleError;
use crate::router::ConditionRouter;

/// One v3.1 condition with weighted destinations.
#[derive(Debug)]
pub struct WeightedRouter {
    name: String,
    priority: i64,
    force: bool,
    /// `from` as the when part of a condition (its then part unused).
    when: ConditionRouter,
    /// Each destination's condition (`None`: every provider, as Java reads a blank `to`) and
    /// weight.
    to: Vec<(Option<ConditionRouter>, u32)>,
}

impl WeightedRouter {
    /// Build the router of one condition (`from`, `to` with weights) of rule `source`.
    ///
    /// # Errors
    /// [`RuleError::BadCondition`] when `from` or a destination does not parse.
    pub fn new(
        source: &Arc<str>,
        from: &str,
        to: &[(String, u32)],
        force: bool,
        priority: i64,
    ) -> Result<WeightedRouter, RuleError> {
        let bad = |expression: String, error| RuleError::BadCondition {
            rule: source.to_string(),
            expression,
            error,
        };
        let when_text = format!("{from} => ");
        let when = ConditionRouter::parse(&when_text).map_err(|e| bad(when_text.clone(), e))?;
        let to = to
            .iter()
            .map(|(expr, weight)| {
                let blank = expr.trim().is_empty() || expr.trim() == "false";
                let router = if blank {
                    None
                } else {
                    let text = format!(" => {expr}");
                    Some(ConditionRouter::parse(&text).map_err(|e| bad(text.clone(), e))?)
                };
                Ok((router, *weight))
            })
            .collect::<Result<Vec<_>, RuleError>>()?;
        let described: Vec<String> = to
            .iter()
            .map(|(r, w)| {
                format!(
                    "{} ({w})",
                    r.as_ref().map_or("*", |r| r.expression().trim_start_matches(" => "))
                )
            })
            .collect();
        Ok(WeightedRouter {
            name: format!("{source} ({from:?} => {})", described.join(" | ")),
            priority,
            force,
            when,
            to,
        })
    }

    /// A name for messages: the node and the condition.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The router's order among the others.
    pub fn priority(&self) -> i64 {
        self.priority
    }

    /// Whether an empty result stays empty.
    pub fn force(&self) -> bool {
        self.force
    }

    /// Route `providers` for one call: `None` when `from` does not match the call (the list
    /// stays), else the picked destination's providers (empty only when forced).
    pub fn route<P>(
        &self,
        providers: &[P],
        url_of: impl Fn(&P) -> &Url,
        consumer: &Url,
        method: Option<&str>,
        inv: Option<&Invocation>,
    ) -> Option<Vec<usize>> {
        if providers.is_empty() || !self.when.matches_when(consumer, method, inv) {
            return None;
        }
        let mut candidates: Vec<(Vec<usize>, u32)> = Vec::with_capacity(self.to.len());
        for (dest, weight) in &self.to {
            let kept: Vec<usize> = match dest {
                Some(d) => d.kept_by_then(providers, &url_of, consumer),
                None => (0..providers.len()).collect(),
            };
            if !kept.is_empty() {
                candidates.push((kept, *weight));
            }
        }
        let total: u64 = candidates.iter().map(|(_, w)| u64::from(*w)).sum();
        match candidates.len() {
            0 if self.force => Some(Vec::new()),
            0 => None,
            1 => candidates.pop().map(|(kept, _)| kept),
            _ if total == 0 => candidates.into_iter().next().map(|(kept, _)| kept),
            _ => {
                let mut pick = fastrand::u64(0..total);
                candidates.into_iter().find_map(|(kept, w)| {
                    if pick < u64::from(w) {
                        Some(kept)
                    } else {
                        pick -= u64::from(w);
                        None
                    }
                })
            }
        }
    }
}
