//! `x-roost:` on a top-level volume: how roost replicates it between nodes (see
//! [`roost_spec::Replication`]). Every key is checked here, so a typo is an error at
//! its line rather than a volume silently left with the defaults.

use super::Ctx;
use crate::yaml::Node;
use roost_spec::{Consistency, Replication};
use std::time::Duration;

/// The keys `x-roost` takes on a volume.
pub const VOLUME_X_ROOST_KEYS: [&str; 5] = ["replicate", "interval", "copies", "consistency", "hook"];

const MIN_INTERVAL: Duration = Duration::from_secs(1);
const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// The replication settings of the volume whose `x-roost` node is `n` (at `path`).
pub(crate) fn parse(ctx: &mut Ctx<'_>, n: &Node, path: &str) -> Replication {
    let mut out = Replication::default();
    if n.is_null() {
        return out;
    }
    if !matches!(n.v, crate::yaml::Value::Map(_)) {
        ctx.err(n.pos, path, format!("expected a mapping with any of {}, found {}", VOLUME_X_ROOST_KEYS.join(", "), n.kind_name()));
        return out;
    }
    let mut mode: Option<(String, &Node)> = None;
    let mut hook: Option<(String, &Node)> = None;
    for (k, v) in n.entries() {
        let p = format!("{path}.{}", k.name);
        match k.name.as_str() {
            "replicate" => out.replicate = ctx.bool(v, &p).unwrap_or(true),
            "interval" => {
                if let Some(d) = ctx.duration(v, &p) {
                    if (MIN_INTERVAL..=MAX_INTERVAL).contains(&d) {
                        out.interval = d;
                    } else {
                        ctx.err(v.pos, &p, format!("the snapshot interval must be between 1s and 24h, not {}s", d.as_secs_f64()));
                    }
                }
            }
            "copies" => {
                if let Some(c) = ctx.int(v, &p) {
                    match u8::try_from(c) {
                        Ok(c @ 1..=Replication::MAX_COPIES) => out.copies = c,
                        _ => ctx.err(v.pos, &p, format!("copies counts the nodes holding the volume, the primary included: 1 to {}, not {c}", Replication::MAX_COPIES)),
                    }
                }
            }
            "consistency" => {
                if let Some(m) = ctx.choice(v, &p, &["pause", "none", "hook"]) {
                    mode = Some((m, v));
                }
            }
            "hook" => {
                if let Some(h) = ctx.string(v, &p) {
                    if h.trim().is_empty() {
                        ctx.err(v.pos, &p, "the hook is a command to run in the service's container; it is empty");
                    } else {
                        hook = Some((h, v));
                    }
                }
            }
            other => ctx.err(k.pos, &p, format!("unknown x-roost key `{other}` on a volume (known: {})", VOLUME_X_ROOST_KEYS.join(", "))),
        }
    }
    out.consistency = match (mode, hook) {
        (Some((m, _)), Some((h, _))) if m == "hook" => Consistency::Hook(h),
        (None, Some((h, _))) => Consistency::Hook(h),
        (Some((m, at)), Some(_)) => {
            ctx.err(at.pos, &format!("{path}.consistency"), format!("`hook` is given, so consistency must be `hook`, not `{m}`"));
            Consistency::Pause
        }
        (Some((m, at)), None) if m == "hook" => {
            ctx.err(at.pos, &format!("{path}.consistency"), "consistency `hook` needs `hook:`, the command to run in the service's container");
            Consistency::Pause
        }
        (Some((m, _)), None) if m == "none" => Consistency::None,
        _ => Consistency::Pause,
    };
    out
}
