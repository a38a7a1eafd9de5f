//! The command line's settings flags, made from the settings table: one flag per setting, with
//! its help, default and room as the heading.

use clap::{Arg, ArgAction, ArgMatches};

use super::schema::{Kind, Room, Spec};
use super::{SCHEMA, SettingError, Settings};

fn heading(room: Room) -> &'static str {
    match room {
        Room::Data => "Data",
        Room::Split => "Split",
        Room::Model => "Model",
        Room::Training => "Training",
        Room::Scoring => "Scoring",
    }
}

/// The default as the CLI shows it.
fn default_text(spec: &Spec, defaults: &serde_json::Value) -> Option<String> {
    match defaults.get(spec.key)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if s.is_empty() => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(a) if a.is_empty() => None,
        other => Some(other.to_string()),
    }
}

/// One flag per setting.
pub fn args() -> Vec<Arg> {
    let defaults = serde_json::to_value(Settings::default()).unwrap_or_default();
    SCHEMA
        .iter()
        .map(|spec| {
            let mut help = spec.help.to_string();
            if !spec.choices.is_empty() {
                let names: Vec<&str> = spec.choices.iter().map(|c| c.value).collect();
                help += &format!(" One of: {}.", names.join(", "));
            }
            if let Some(d) = default_text(spec, &defaults) {
                help += &format!(" [default: {d}]");
            }
            let arg = Arg::new(spec.key)
                .long(spec.flag)
                .help(help)
                .help_heading(heading(spec.room))
                .value_name(spec.key.to_uppercase());
            match spec.kind {
                Kind::List => arg.action(ArgAction::Append),
                Kind::Float | Kind::OptionalFloat => arg.allow_negative_numbers(true),
                _ => arg,
            }
        })
        .collect()
}

/// The settings the flags give, over `base` (the defaults, or a bundled dataset's), not yet
/// checked.
pub fn settings(matches: &ArgMatches, base: Settings) -> Result<Settings, SettingError> {
    let mut s = base;
    for spec in SCHEMA {
        if let Some(values) = matches.get_many::<String>(spec.key) {
            let text = values.map(String::as_str).collect::<Vec<_>>().join(",");
            s.set(spec.key, &text)?;
        }
    }
    Ok(s)
}
