-- OpenID Connect sign-in. Times are Unix milliseconds.

-- An identity at an OpenID Connect provider (issuer + subject), linked to one account.
CREATE TABLE oidc_identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    provider TEXT NOT NULL,
    -- The email the provider asserted at the last sign-in, and whether it said it verified it
    -- (1) or not (0): automatic linking by email considers verified ones only.
    email TEXT,
    email_verified BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    UNIQUE (issuer, subject)
);
CREATE INDEX oidc_identities_user ON oidc_identities(user_id);
CREATE INDEX oidc_identities_email ON oidc_identities(email);

-- An authorization-code flow under way, keyed by the hash of its state: deleted when the
-- provider's answer comes back (so a replayed state finds nothing) or when it expires.
CREATE TABLE oidc_logins (
    state_hash TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    -- The hash of the browser-binding cookie of a web sign-in; NULL for an API client's flow.
    browser_hash TEXT,
    -- The signed-in account a "link" flow adds the identity to; NULL for a sign-in.
    link_user_id BIGINT REFERENCES users(id),
    return_to TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_logins_expiry ON oidc_logins(expires_at);

-- Nonces handed to API clients for the ID-token exchange: each is accepted once.
CREATE TABLE oidc_nonces (
    nonce_hash TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_nonces_expiry ON oidc_nonces(expires_at);
