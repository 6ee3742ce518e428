//! Discovery: nsqlookupd's registration DB and its side of the lookup
//! protocol V1, the HTTP views over the DB, and nsqd's registration with
//! its lookupds. All pure: time comes in as `now`, bytes in and out.

pub mod db;
pub mod gojson;
pub mod metrics;
pub mod options;
pub mod registrar;
pub mod server;
pub mod views;

pub use db::{Activity, Category, PeerInfo, Registration, RegistrationDb};
pub use options::LookupdOptions;
pub use registrar::{Action, CatalogEvent, NodeInfo, Registrar, RegistrarConfig};
pub use server::{Reply, Request, ServerInfo, Session};
