import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CfnResourceJson, resourcesOf, type SynthesizedOffpeak, synthOffpeak } from './synth.js';

// Prepare: the ready app with the hosted dashboard (one synthesis).
let synth: SynthesizedOffpeak;
beforeAll(() => {
  synth = synthOffpeak({ props: () => ({ webDashboard: true }) });
});

describe('hosted web dashboard', () => {
  it('serves a private bucket through CloudFront with origin access control, HTTPS only and access logs', () => {
    const [[, distribution]] = resourcesOf(synth.template, 'AWS::CloudFront::Distribution') as [
      [string, CfnResourceJson],
    ];
    const config = distribution.Properties.DistributionConfig;
    expect(config.DefaultRootObject).toBe('index.html');
    expect(config.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    expect(config.Logging).toBeDefined();
    expect(config.Origins[0].OriginAccessControlId).toBeDefined();
    expect(resourcesOf(synth.template, 'AWS::CloudFront::OriginAccessControl')).toHaveLength(1);
  });

  it('signs people in with a Cognito user pool (no self sign-up, MFA required) and an identity pool without guests', () => {
    const [[, pool]] = resourcesOf(synth.template, 'AWS::Cognito::UserPool') as [[string, CfnResourceJson]];
    expect(pool.Properties.MfaConfiguration).toBe('ON');
    expect(pool.Properties.AdminCreateUserConfig.AllowAdminCreateUserOnly).toBe(true);
    expect(pool.Properties.Policies.PasswordPolicy.MinimumLength).toBe(12);
    const [[, identityPool]] = resourcesOf(synth.template, 'AWS::Cognito::IdentityPool') as [
      [string, CfnResourceJson],
    ];
    expect(identityPool.Properties.AllowUnauthenticatedIdentities).toBe(false);
  });

  it('gives signed-in people only execute-api:Invoke on the Offpeak API, and lets the dashboard origin call it (CORS)', () => {
    const statements = resourcesOf(synth.template, 'AWS::IAM::Policy')
      .filter(([id]) => id.includes('WebDashboardUserRole'))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    expect(statements).toEqual([expect.objectContaining({ Action: 'execute-api:Invoke', Effect: 'Allow' })]);
    const [[, api]] = resourcesOf(synth.template, 'AWS::ApiGatewayV2::Api') as [[string, CfnResourceJson]];
    expect(api.Properties.CorsConfiguration).toMatchObject({
      AllowMethods: ['GET', 'POST', 'PATCH', 'DELETE'],
      AllowHeaders: expect.arrayContaining(['authorization', 'x-amz-date', 'x-amz-security-token']),
    });
    const outputs = Object.keys(synth.template.toJSON().Outputs);
    expect(outputs).toEqual(
      expect.arrayContaining([
        expect.stringContaining('DashboardUrl'),
        expect.stringContaining('DashboardConfig'),
      ]),
    );
  });

  it('keeps cdk-nag at zero unacknowledged findings', () => {
    const report = new AwsSolutionsChecks().validateScope(synth.app);
    expect(
      report.violations.map(
        (v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(' ')}`,
      ),
    ).toEqual([]);
  });
});
