"""Social login against a real OpenID provider (npm oidc-provider)."""
