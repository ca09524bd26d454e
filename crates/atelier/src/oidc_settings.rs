//! OpenID Connect settings: `[oidc]` and `[[oidc.providers]]` in the TOML file, and
//! `ATELIER_OIDC_*` variables, which win over the file:
//!
//! - `ATELIER_OIDC_PROVIDERS=google,corp`: the providers configured by variables, each then
//!   read from `ATELIER_OIDC_<ID>_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET`, `_SCOPES` (spaces or
//!   commas), `_NAME`, `_REDIRECT_URIS`, `_AUDIENCES` (commas), `<ID>` upper-cased with `-` as
//!   `_`; a provider of the same id in the file is replaced.
//! - `ATELIER_OIDC_AUTO_LINK_VERIFIED_EMAIL`, `ATELIER_OIDC_PUBLIC_URL`.

use std::time::Duration;

use anyhow::{Context, bail};
use atelier_platform::oidc::{OidcConfig, ProviderConfig};
use serde::Deserialize;

/// `[oidc]` in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOidc {
    /// Link a first sign-in to the account of another identity with the same verified email.
    pub auto_link_verified_email: Option<bool>,
    /// The address people reach atelier at (for the web sign-in's redirect URI).
    pub public_url: Option<String>,
    /// Least seconds between two key-set fetches caused by an unknown key id [default: 10].
    pub jwks_refresh_min_secs: Option<u64>,
    /// `[[oidc.providers]]`.
    #[serde(default)]
    pub providers: Vec<FileOidcProvider>,
}

/// One `[[oidc.providers]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOidcProvider {
    /// Short name in URLs.
    pub id: String,
    /// Button label after "Sign in with" [default: the id, capitalised].
    pub name: Option<String>,
    /// Issuer URL [default for `google`: `https://accounts.google.com`].
    pub issuer: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Option<String>,
    /// Scopes [default: `openid email profile`].
    pub scopes: Option<Vec<String>>,
    /// Redirect URIs API clients may use.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Further client ids the ID-token exchange accepts.
    #[serde(default)]
    pub audiences: Vec<String>,
}

fn list(value: &str) -> Vec<String> {
    value
        .split([',', ' '])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_bool(name: &str, value: &str) -> anyhow::Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => bail!("{name}={other:?}: expected true or false"),
    }
}

/// Resolves the OpenID Connect settings from the file and `env` (a variable lookup).
pub fn resolve(
    file: &FileOidc,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<OidcConfig> {
    let mut config = OidcConfig::default();
    for entry in &file.providers {
        let mut provider =
            ProviderConfig::new(&entry.id, entry.issuer.clone(), entry.client_id.clone());
        if let Some(name) = &entry.name {
            provider.name = name.clone();
        }
        provider.client_secret = entry.client_secret.clone();
        if let Some(scopes) = &entry.scopes {
            provider.scopes = scopes.clone();
        }
        provider.redirect_uris = entry.redirect_uris.clone();
        provider.audiences = entry.audiences.clone();
        config.providers.push(provider);
    }
    if let Some(ids) = env("ATELIER_OIDC_PROVIDERS") {
        for id in list(&ids) {
            let prefix = format!(
                "ATELIER_OIDC_{}_",
                id.to_ascii_uppercase().replace('-', "_")
            );
            let var = |suffix: &str| env(&format!("{prefix}{suffix}"));
            let client_id = var("CLIENT_ID")
                .with_context(|| format!("OIDC provider {id:?} needs {prefix}CLIENT_ID"))?;
            let mut provider = ProviderConfig::new(&id, var("ISSUER"), client_id);
            if let Some(name) = var("NAME") {
                provider.name = name;
            }
            provider.client_secret = var("CLIENT_SECRET");
            if let Some(scopes) = var("SCOPES") {
                provider.scopes = list(&scopes);
            }
            provider.redirect_uris = var("REDIRECT_URIS").map(|v| list(&v)).unwrap_or_default();
            provider.audiences = var("AUDIENCES").map(|v| list(&v)).unwrap_or_default();
            config.providers.retain(|existing| existing.id != id);
            config.providers.push(provider);
        }
    }
    config.auto_link_verified_email = match env("ATELIER_OIDC_AUTO_LINK_VERIFIED_EMAIL") {
        Some(value) => parse_bool("ATELIER_OIDC_AUTO_LINK_VERIFIED_EMAIL", &value)?,
        None => file.auto_link_verified_email.unwrap_or(false),
    };
    config.public_url = env("ATELIER_OIDC_PUBLIC_URL").or_else(|| file.public_url.clone());
    if let Some(secs) = file.jwks_refresh_min_secs {
        config.jwks_min_refresh = Duration::from_secs(secs);
    }
    for provider in &config.providers {
        provider.validate().map_err(anyhow::Error::msg)?;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_from_variables_needs_only_its_client() {
        let env = |name: &str| match name {
            "ATELIER_OIDC_PROVIDERS" => Some("google".to_owned()),
            "ATELIER_OIDC_GOOGLE_CLIENT_ID" => Some("id.apps.googleusercontent.com".to_owned()),
            "ATELIER_OIDC_GOOGLE_CLIENT_SECRET" => Some("secret".to_owned()),
            _ => None,
        };
        let config = resolve(&FileOidc::default(), env).expect("settings");
        assert_eq!(config.providers.len(), 1);
        assert_eq!(config.providers[0].issuer, "https://accounts.google.com");
        assert_eq!(config.providers[0].name, "Google");
        assert_eq!(config.providers[0].scopes, ["openid", "email", "profile"]);
    }

    #[test]
    fn the_file_lists_providers_and_variables_replace_them() {
        let file: FileOidc = toml::from_str(
            r#"
            auto_link_verified_email = true
            [[providers]]
            id = "corp"
            issuer = "https://id.corp.example"
            client_id = "atelier"
            scopes = ["openid", "email"]
            "#,
        )
        .expect("toml");
        let config = resolve(&file, |_| None).expect("settings");
        assert!(config.auto_link_verified_email);
        assert_eq!(config.providers[0].scopes, ["openid", "email"]);
        let env = |name: &str| match name {
            "ATELIER_OIDC_PROVIDERS" => Some("corp".to_owned()),
            "ATELIER_OIDC_CORP_ISSUER" => Some("https://other.example".to_owned()),
            "ATELIER_OIDC_CORP_CLIENT_ID" => Some("x".to_owned()),
            _ => None,
        };
        let config = resolve(&file, env).expect("settings");
        assert_eq!(config.providers.len(), 1);
        assert_eq!(config.providers[0].issuer, "https://other.example");
    }

    #[test]
    fn a_provider_without_issuer_is_refused() {
        let env = |name: &str| match name {
            "ATELIER_OIDC_PROVIDERS" => Some("corp".to_owned()),
            "ATELIER_OIDC_CORP_CLIENT_ID" => Some("x".to_owned()),
            _ => None,
        };
        assert!(resolve(&FileOidc::default(), env).is_err());
    }
}
