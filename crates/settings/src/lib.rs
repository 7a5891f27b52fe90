//! Setting values as operators write them, parsed one way for every crate of the workspace:
//! durations (`15s`, `15m`, `1h 30m`, `30d`; never a bare number).

pub mod duration;
