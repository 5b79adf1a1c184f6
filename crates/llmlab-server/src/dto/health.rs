//! Health.

use serde::Serialize;
use utoipa::ToSchema;

/// Health.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: &'static str,
    /// Server version.
    pub version: &'static str,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// `ok` or `unreachable`.
    pub database: &'static str,
    /// The event writer thread: `ok` or `stopped`.
    pub writer: &'static str,
    /// Groups of events the writer failed on with a panic since start (their requests
    /// got 500s; the writer went on).
    pub writer_failed_groups: u64,
}

/// `GET /api/health/live`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Live {
    /// Always `ok`: an answer is the proof.
    pub status: &'static str,
}

/// `GET /api/health/ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// `ok` or `unreachable`.
    pub database: &'static str,
    /// `applied`, `pending` (the database is older than this build) or `unknown`.
    pub migrations: &'static str,
    /// The event writer thread: `ok` or `stopped`.
    pub writer: &'static str,
}
