// A real OpenID provider for the social login tests: panva's oidc-provider (npm, OpenID
// certified), configured here and nowhere else.
//
//   REDIRECT_BASE=http://127.0.0.1:PORT node tests/oauth/provider.mjs
//
// listens on a free port of 127.0.0.1 and prints one line of JSON once it serves:
// {"issuer": "http://127.0.0.1:NNNN"}. It stops when its standard input closes (its test
// process is gone) or on SIGTERM.
//
// Clients (each may use only its own redirect URI under REDIRECT_BASE, PKCE S256 required):
//   hearth-basic   confidential, client_secret_basic    -> /auth/basic/callback
//   hearth-post    confidential, client_secret_post     -> /auth/post/callback
//   hearth-public  public, token_endpoint_auth_method none -> /auth/public/callback
//   hearth-github  confidential, plain OAuth 2.0 (no openid scope) -> /auth/github/callback
//
// Accounts: whatever login name the sign-in form is given is an account (the password is
// not checked: devInteractions). Its claims: sub "<login>", email "<login>@example.com",
// email_verified unless the login starts with "unverified", name "<Login> Example"; a login
// starting with "noemail" has no email at all.
//
// /_github/user and /_github/user/emails answer as GitHub's API does for the access token in
// the Authorization header, which the provider itself must know (a token it never issued,
// or one expired or revoked, is 401 "Bad credentials").

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import Provider from "oidc-provider";

const redirectBase = process.env.REDIRECT_BASE;
if (!redirectBase) {
  console.error("REDIRECT_BASE is required (Hearth's base URL)");
  process.exit(2);
}

export const SECRETS = {
  "hearth-basic": "basic-client-secret-of-the-tests",
  "hearth-post": "post-client-secret-of-the-tests",
  "hearth-github": "github-client-secret-of-the-tests",
};

function claimsOf(login) {
  const claims = {
    sub: login,
    name: `${login[0].toUpperCase()}${login.slice(1)} Example`,
  };
  if (!login.startsWith("noemail")) {
    claims.email = `${login}@example.com`;
    claims.email_verified = !login.startsWith("unverified");
  }
  return claims;
}

// GitHub's numeric user ids: a stable number per login.
function githubId(login) {
  let id = 7;
  for (const c of login) id = (id * 31 + c.charCodeAt(0)) % 2_000_000_000;
  return id;
}

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: "tests-rs256", use: "sig", alg: "RS256" };

const server = createServer();
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "hearth-basic",
        client_secret: SECRETS["hearth-basic"],
        token_endpoint_auth_method: "client_secret_basic",
        redirect_uris: [`${redirectBase}/auth/basic/callback`],
      },
      {
        client_id: "hearth-post",
        client_secret: SECRETS["hearth-post"],
        token_endpoint_auth_method: "client_secret_post",
        redirect_uris: [`${redirectBase}/auth/post/callback`],
      },
      {
        client_id: "hearth-public",
        token_endpoint_auth_method: "none",
        redirect_uris: [`${redirectBase}/auth/public/callback`],
      },
      {
        client_id: "hearth-github",
        client_secret: SECRETS["hearth-github"],
        token_endpoint_auth_method: "client_secret_basic",
        redirect_uris: [`${redirectBase}/auth/github/callback`],
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    pkce: { required: () => true },
    scopes: ["openid", "offline_access", "read:user", "user:email"],
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name"],
    },
    features: { devInteractions: { enabled: true } },
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return claimsOf(sub);
        },
      };
    },
    renderError(ctx, out) {
      ctx.type = "json";
      ctx.body = out;
    },
  });
  provider.proxy = false;

  async function githubApi(req, res) {
    const auth = req.headers.authorization ?? "";
    const value = auth.replace(/^(Bearer|token) /i, "");
    const token = value ? await provider.AccessToken.find(value) : undefined;
    res.setHeader("Content-Type", "application/json");
    if (!token || token.isExpired) {
      res.statusCode = 401;
      res.end(JSON.stringify({ message: "Bad credentials" }));
      return;
    }
    const login = token.accountId;
    const claims = claimsOf(login);
    if (req.url === "/_github/user") {
      res.end(JSON.stringify({
        id: githubId(login), login, name: claims.name,
        // GitHub shows the public email here, or null: never trust it, read /user/emails.
        email: null,
      }));
    } else if (req.url === "/_github/user/emails") {
      const emails = claims.email
        ? [
          { email: `${login}.old@example.com`, primary: false, verified: false, visibility: null },
          { email: claims.email, primary: true, verified: claims.email_verified, visibility: "private" },
        ]
        : [];
      res.end(JSON.stringify(emails));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ message: "Not Found" }));
    }
  }

  const callback = provider.callback();
  server.on("request", (req, res) => {
    if (req.url.startsWith("/_github/")) {
      githubApi(req, res).catch((error) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ message: String(error) }));
      });
    } else {
      callback(req, res);
    }
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
process.on("SIGTERM", () => process.exit(0));
