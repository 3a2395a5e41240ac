//! The matching model the index keeps in memory.
//!
//! A deployment should train one on its own records — `lantern link --input people.csv
//! --id-column id --model-out model.json` — and point `LANTERN_IDENTITY_MODEL` at it: the m and
//! u probabilities, the prior and the term-frequency tables then describe its population.
//!
//! Until then [`default_model`] is used: `default_model.json`, made by the engine's own training
//! (u from random pairs, m by EM; `examples/train_default_model.rs`) on 50,000 records of the
//! engine's synthetic UK population, with the default comparisons, blocking rules and thresholds,
//! and *without* term-frequency adjustment (a synthetic population's name and postcode
//! frequencies are not the deployment's, so a common surname and a rare one weigh the same
//! until a model is trained on real data). Its prior is that of a 50,000-record population;
//! in a much larger index, where chance agreements are likelier, train a model.
//!
//! Thresholds, NHS-number rules, blocking rules and the person guard can be changed without
//! retraining: `LANTERN_IDENTITY_CONFIG` names a TOML file whose keys (as in
//! `lantern_identity::Config`) override the model's. Changing the comparisons needs a new model.
use lantern_identity::{Config, IdentityError, Model};

/// The shipped model (see the module documentation).
pub fn default_model() -> Model {
    Model::from_json(include_str!("default_model.json")).expect("the shipped model is valid")
}

/// A model from JSON (or the default), with configuration overrides from TOML applied.
pub fn load(model_json: Option<&str>, config_toml: Option<&str>) -> Result<Model, IdentityError> {
    let mut model = match model_json {
        Some(text) => Model::from_json(text)?,
        None => default_model(),
    };
    if let Some(text) = config_toml {
        let mut base: toml::Table =
            toml::from_str(&model.config.to_toml()?).map_err(|e| IdentityError::Config(e.to_string()))?;
        let over: toml::Table = toml::from_str(text).map_err(|e| IdentityError::Config(e.to_string()))?;
        for (k, v) in over {
            base.insert(k, v);
        }
        let merged = toml::to_string(&base).map_err(|e| IdentityError::Config(e.to_string()))?;
        model.config = Config::from_toml(&merged)?;
        // The learnt parameters must still fit the comparisons' levels.
        model = Model::from_json(&model.to_json()?)?;
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_loads_and_overrides_apply() {
        let m = default_model();
        assert!(m.comparisons.iter().all(|c| c.m.iter().all(|x| *x > 0.0)));
        let m = load(None, Some("link_threshold = 9.5\nreview_threshold = 1.0\n")).unwrap();
        assert_eq!(m.config.link_threshold, 9.5);
        assert_eq!(m.config.comparisons, default_model().config.comparisons);
        assert!(load(None, Some("review_threshold = 20.0\n")).is_err());
    }
}
