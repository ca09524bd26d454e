//! atelier's API tests: the real server over HTTP on an ephemeral port, on SQLite + a local folder
//! and (when `.ci/run` provides them) PostgreSQL + an S3-compatible store.

mod accounts;
mod animate;
mod backup;
mod blobs;
mod cascade_pack;
mod classify;
mod cluster;
mod cluster_run;
mod detect;
mod drawings;
mod durability;
mod families;
mod hardening;
mod helpers;
mod jobs;
mod leases;
mod limits;
mod littlestudio;
mod node;
mod oidc;
mod operations;
mod outage;
mod photo3d;
mod presence_nodes;
mod processes;
mod realtime;
mod realtime_node;
mod shutdown;
mod studio;
mod studio_download;
mod studio_exchange;
mod studio_proposals;
mod studio_training;
mod uploads;
mod web;
