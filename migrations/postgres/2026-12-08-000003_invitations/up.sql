-- Invitations: adding a member invites them, and nobody joins a workspace without
-- accepting. `email` is in its normal form (trimmed, NFKC, lowercase), the form
-- users.email is kept in, so a person who signs up after being invited sees it too.
-- One invitation per workspace and email: a new one replaces it. The role is granted
-- when the invitee accepts, and only while the sender may still grant it.
-- A sequence: an id once used never names another invitation, so an id that was
-- revoked, declined or replaced stays "not found".
CREATE TABLE invitations (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'member', 'admin', 'owner')),
    invited_by BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, email)
);
-- A person's own invitations, across workspaces.
CREATE INDEX invitations_email ON invitations (email, id);
