//! Request and response bodies of the HTTP contract (API.md), one module per area. Field
//! names here are the contract; domain types live in the engine and store.

mod auth;
mod budgets;
mod channels;
mod commitments;
mod contracts;
mod costs;
mod events;
mod fx;
mod health;
mod invitations;
mod keys;
mod reconciliation;
mod summary;
mod tags;

mod price_schema;
mod pricing;
mod recs;
mod workspaces;

pub use auth::*;
pub use budgets::*;
pub use channels::*;
pub use commitments::*;
pub use contracts::*;
pub use costs::*;
pub use events::*;
pub use fx::*;
pub use health::*;
pub use invitations::*;
pub use keys::*;
pub use pricing::*;
pub use reconciliation::*;
pub use recs::*;
pub use summary::*;
pub use tags::*;
pub use workspaces::*;
