//! The JSON form of the figures: the server, then per runtime its totals and locations.

use super::{
    version_of, About, CacheState, Compiles, Figures, LocationFigures, ModuleState, Snapshot,
};
use serde::Serialize;

/// The JSON form: the server, then per runtime its totals and locations.
pub fn json(snapshot: &Snapshot, about: &About) -> String {
    #[derive(Serialize)]
    struct Runtime<'a> {
        name: &'a str,
        version: Option<&'a str>,
        compiles: Option<&'a Compiles>,
        totals: &'a Figures,
        locations: Vec<&'a LocationFigures>,
    }
    #[derive(Serialize)]
    struct Report<'a> {
        started_unix: u64,
        unresolved: u64,
        cache: &'a Option<CacheState>,
        modules: &'a [ModuleState],
        runtimes: Vec<Runtime<'a>>,
    }
    let totals = snapshot.runtimes(about);
    let report = Report {
        started_unix: snapshot.started_unix,
        unresolved: snapshot.unresolved,
        cache: &about.cache,
        modules: &about.modules,
        runtimes: totals
            .iter()
            .map(|(name, totals)| Runtime {
                name,
                version: version_of(about, name),
                compiles: snapshot.compiles.iter().find(|c| &c.runtime == name),
                totals,
                locations: snapshot
                    .locations
                    .iter()
                    .filter(|l| &l.runtime == name)
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
