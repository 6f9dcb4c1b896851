import type { AwsCredentials } from '../../src/cli/signer.js';
import type { CredentialsProvider, DashboardConfig } from './api.js';
import { h, mount } from './dom.js';

interface Tokens {
  readonly idToken: string;
  readonly refreshToken?: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

const TOKENS_KEY = 'offpeak.tokens';

/**
 * Signs a person in to the deployed dashboard, the IAM way: a Cognito user pool authenticates them
 * (USER_PASSWORD_AUTH, with a new password on first sign-in and TOTP MFA), a Cognito identity pool exchanges the
 * ID token for temporary AWS credentials of a role allowed `execute-api:Invoke` on the Offpeak API, and every API
 * request is SigV4-signed with them, exactly like the CLI's. Tokens live in sessionStorage (gone with the tab).
 *
 * @returns a provider of fresh credentials (renewed before they expire, with the refresh token).
 */
export async function cognitoSignIn(
  config: DashboardConfig,
  root: HTMLElement,
  session: HTMLElement,
): Promise<CredentialsProvider> {
  const region = required(config.region, 'region');
  const clientId = required(config.userPoolClientId, 'userPoolClientId');
  const userPoolId = required(config.userPoolId, 'userPoolId');
  const identityPoolId = required(config.identityPoolId, 'identityPoolId');
  let tokens = readTokens() ?? (await signInForm(root, region, clientId));
  storeTokens(tokens);
  session.replaceChildren(
    h(
      'button',
      {
        onclick: () => {
          sessionStorage.removeItem(TOKENS_KEY);
          window.location.reload();
        },
      },
      'Sign out',
    ),
  );
  let credentials: (AwsCredentials & { expiresAt: number }) | undefined;
  const provider = `cognito-idp.${region}.amazonaws.com/${userPoolId}`;
  return async () => {
    if (credentials && credentials.expiresAt - Date.now() > 5 * 60_000) return credentials;
    if (tokens.expiresAt - Date.now() < 5 * 60_000 && tokens.refreshToken) {
      const result = await idp(region, 'InitiateAuth', {
        AuthFlow: 'REFRESH_TOKEN_AUTH',
        ClientId: clientId,
        AuthParameters: { REFRESH_TOKEN: tokens.refreshToken },
      });
      tokens = toTokens(result.AuthenticationResult, tokens.refreshToken);
      storeTokens(tokens);
    }
    const logins = { [provider]: tokens.idToken };
    const { IdentityId } = await identity(region, 'GetId', {
      IdentityPoolId: identityPoolId,
      Logins: logins,
    });
    const { Credentials } = await identity(region, 'GetCredentialsForIdentity', {
      IdentityId,
      Logins: logins,
    });
    credentials = {
      accessKeyId: Credentials.AccessKeyId,
      secretAccessKey: Credentials.SecretKey,
      sessionToken: Credentials.SessionToken,
      expiresAt: Credentials.Expiration * 1000,
    };
    return credentials;
  };
}

async function signInForm(root: HTMLElement, region: string, clientId: string): Promise<Tokens> {
  return new Promise((resolve) => {
    const username = h('input', { autocomplete: 'username', 'aria-label': 'User name' });
    const password = h('input', {
      type: 'password',
      autocomplete: 'current-password',
      'aria-label': 'Password',
    });
    const status = h('p', { class: 'muted' });
    const form = h(
      'form',
      { class: 'panel', style: 'max-width:360px;display:grid;gap:10px' },
      h('h1', {}, 'Sign in to Offpeak'),
      username,
      password,
      h('button', { class: 'primary', type: 'submit' }, 'Sign in'),
      status,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void (async () => {
        try {
          let result = await idp(region, 'InitiateAuth', {
            AuthFlow: 'USER_PASSWORD_AUTH',
            ClientId: clientId,
            AuthParameters: { USERNAME: username.value, PASSWORD: password.value },
          });
          while (result.ChallengeName) result = await challenge(region, clientId, username.value, result);
          resolve(toTokens(result.AuthenticationResult));
        } catch (error) {
          status.textContent = error instanceof Error ? error.message : String(error);
        }
      })();
    });
    mount(root, form);
  });
}

/** Answers Cognito's challenges: a new password (first sign-in), TOTP setup, a TOTP code. */
async function challenge(
  region: string,
  clientId: string,
  username: string,
  result: CognitoResult,
): Promise<CognitoResult> {
  const respond = (responses: Record<string, string>, session = result.Session) =>
    idp(region, 'RespondToAuthChallenge', {
      ChallengeName: result.ChallengeName,
      ClientId: clientId,
      Session: session,
      ChallengeResponses: { USERNAME: username, ...responses },
    });
  switch (result.ChallengeName) {
    case 'NEW_PASSWORD_REQUIRED':
      return respond({ NEW_PASSWORD: ask('Choose a new password') });
    case 'SOFTWARE_TOKEN_MFA':
      return respond({ SOFTWARE_TOKEN_MFA_CODE: ask('Code from your authenticator app') });
    case 'MFA_SETUP': {
      const { SecretCode, Session } = await idp(region, 'AssociateSoftwareToken', {
        Session: result.Session,
      });
      const { Session: verified } = await idp(region, 'VerifySoftwareToken', {
        Session,
        UserCode: ask(`Add this key to your authenticator app, then enter its code:\n${SecretCode}`),
      });
      return respond({}, verified);
    }
    default:
      throw new Error(`Unsupported sign-in challenge ${result.ChallengeName}`);
  }
}

function ask(question: string): string {
  const answer = window.prompt(question);
  if (!answer) throw new Error('Sign-in cancelled');
  return answer;
}

// biome-ignore lint/suspicious/noExplicitAny: Cognito's JSON answers are read field by field, as documented
type CognitoResult = any;

async function idp(region: string, action: string, body: unknown): Promise<CognitoResult> {
  return awsJson(
    `https://cognito-idp.${region}.amazonaws.com/`,
    `AWSCognitoIdentityProviderService.${action}`,
    body,
  );
}

async function identity(region: string, action: string, body: unknown): Promise<CognitoResult> {
  return awsJson(
    `https://cognito-identity.${region}.amazonaws.com/`,
    `AWSCognitoIdentityService.${action}`,
    body,
  );
}

/** Cognito's public (unsigned) JSON-RPC calls. */
async function awsJson(url: string, target: string, body: unknown): Promise<CognitoResult> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
    body: JSON.stringify(body),
  });
  const data = (await response.json()) as CognitoResult;
  if (!response.ok) throw new Error(data.message ?? data.__type ?? `HTTP ${response.status}`);
  return data;
}

function toTokens(result: CognitoResult, refreshToken?: string): Tokens {
  return {
    idToken: result.IdToken,
    ...((result.RefreshToken ?? refreshToken) ? { refreshToken: result.RefreshToken ?? refreshToken } : {}),
    expiresAt: Date.now() + Number(result.ExpiresIn ?? 3600) * 1000,
  };
}

function readTokens(): Tokens | undefined {
  try {
    const tokens = JSON.parse(sessionStorage.getItem(TOKENS_KEY) ?? 'null') as Tokens | null;
    return tokens && (tokens.expiresAt > Date.now() || tokens.refreshToken) ? tokens : undefined;
  } catch {
    return undefined;
  }
}

function storeTokens(tokens: Tokens): void {
  sessionStorage.setItem(TOKENS_KEY, JSON.stringify(tokens));
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new Error(`config.json has no ${name}`);
  return value;
}
