"""Identity and access: users, passwords, invitations, roles, OAuth2 tokens, OIDC login."""
