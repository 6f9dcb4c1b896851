import { CfnOutput, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, nagResourceName } from './nag.js';

/** Props of {@link OffpeakWebDashboard}. */
export interface OffpeakWebDashboardProps {
  /** The Offpeak HTTP API the dashboard calls (CORS for the dashboard's origin is set on it). */
  readonly httpApi: apigwv2.HttpApi;
  /** The API's base URL. */
  readonly apiUrl: string;
  /** A WAF web ACL (global, in us-east-1) for the distribution. @default - none */
  readonly webAclId?: string;
  /** What happens to the buckets and the user pool when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The web dashboard on AWS with the same IAM auth story as the CLI: the static files in a private S3 bucket behind
 * CloudFront (origin access control, HTTPS only, security headers, access logs); people sign in to a Cognito user
 * pool (admin-created users, strong passwords, TOTP MFA required); a Cognito identity pool exchanges the sign-in for
 * temporary credentials of a role that may only `execute-api:Invoke` the Offpeak API; the dashboard signs every API
 * call with SigV4, exactly like the CLI. The API allows CORS from the dashboard's origin only.
 *
 * Publishing the files (no custom-resource Lambda): `npm run build:web`, then copy `web/dist` and a `config.json`
 * (stack output `DashboardConfig`) to the bucket (stack output `DashboardBucket`), see docs/monitoring.md.
 */
export class OffpeakWebDashboard extends Construct {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  readonly userPool: cognito.UserPool;
  readonly userPoolClient: cognito.UserPoolClient;
  readonly identityPool: cognito.CfnIdentityPool;
  /** The role signed-in people get: `execute-api:Invoke` on the Offpeak API, nothing else. */
  readonly userRole: iam.Role;
  /** `https://<distribution domain>` */
  readonly url: string;
  /** What `config.json` must hold. */
  readonly config: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: OffpeakWebDashboardProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    const logBucket = new s3.Bucket(this, 'LogBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // CloudFront standard logging writes with ACLs.
      objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
      removalPolicy,
    });
    acknowledge(
      logBucket,
      'AwsSolutions-S1',
      'This is the dashboard access-log bucket; logging it to itself would recurse.',
    );
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: logBucket,
      serverAccessLogsPrefix: 'bucket/',
      removalPolicy,
    });

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Offpeak dashboard',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
      },
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      enableLogging: true,
      logBucket,
      logFilePrefix: 'cloudfront/',
      ...(props.webAclId ? { webAclId: props.webAclId } : {}),
    });
    this.url = `https://${this.distribution.distributionDomainName}`;
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR1',
      'The dashboard is for the team that deployed Offpeak, wherever they are; its data is behind IAM (Cognito sign-in with MFA), not the CDN.',
    );
    acknowledge(
      this.distribution,
      'AwsSolutions-CFR4',
      'The default CloudFront certificate allows only what CloudFront negotiates for *.cloudfront.net; put the dashboard on your own domain and certificate for TLSv1.2_2021.',
    );
    if (!props.webAclId) {
      acknowledge(
        this.distribution,
        'AwsSolutions-CFR2',
        'The distribution serves static files only; every data request goes to the IAM-authorized API. Pass webAclId to attach a WAF web ACL.',
      );
    }

    this.userPool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: `${stack.stackName}-offpeak-dashboard`.slice(0, 128),
      selfSignUpEnabled: false,
      signInAliases: { username: true, email: true },
      passwordPolicy: {
        minLength: 12,
        requireDigits: true,
        requireLowercase: true,
        requireUppercase: true,
        requireSymbols: true,
      },
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      removalPolicy,
    });
    acknowledge(
      this.userPool,
      'AwsSolutions-COG8',
      'The Plus feature plan is billed per monthly user; the dashboard pool is admin-created users only, with strong passwords and required TOTP MFA.',
    );
    acknowledge(
      this.userPool,
      'AwsSolutions-COG3',
      'Threat protection needs the Plus feature plan (billed per user); the pool has no self sign-up, strong passwords and required TOTP MFA.',
    );
    this.userPoolClient = this.userPool.addClient('Client', {
      authFlows: { userPassword: true },
      generateSecret: false,
      preventUserExistenceErrors: true,
    });
    this.identityPool = new cognito.CfnIdentityPool(this, 'IdentityPool', {
      allowUnauthenticatedIdentities: false,
      cognitoIdentityProviders: [
        { clientId: this.userPoolClient.userPoolClientId, providerName: this.userPool.userPoolProviderName },
      ],
    });
    this.userRole = new iam.Role(this, 'UserRole', {
      description: 'Offpeak dashboard users: call the Offpeak API',
      assumedBy: new iam.FederatedPrincipal(
        'cognito-identity.amazonaws.com',
        {
          StringEquals: { 'cognito-identity.amazonaws.com:aud': this.identityPool.ref },
          'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' },
        },
        'sts:AssumeRoleWithWebIdentity',
      ),
    });
    const apiArn = stack.formatArn({
      service: 'execute-api',
      resource: props.httpApi.apiId,
      resourceName: '*',
    });
    this.userRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources: [apiArn] }),
    );
    acknowledge(
      this.userRole,
      `AwsSolutions-IAM5[Resource::${nagResourceName(this, apiArn)}]`,
      'Dashboard users may call every route of the Offpeak API (stage/method/path), and nothing else; narrow it with your own role per team if needed.',
    );
    new cognito.CfnIdentityPoolRoleAttachment(this, 'Roles', {
      identityPoolId: this.identityPool.ref,
      roles: { authenticated: this.userRole.roleArn },
    });

    // Browsers send a preflight before signed requests; API Gateway answers it when CORS is configured.
    const cfnApi = props.httpApi.node.defaultChild as apigwv2.CfnApi;
    cfnApi.addPropertyOverride('CorsConfiguration', {
      AllowOrigins: [this.url],
      AllowMethods: ['GET', 'POST', 'PATCH', 'DELETE'],
      AllowHeaders: [
        'authorization',
        'content-type',
        'x-amz-date',
        'x-amz-security-token',
        'x-amz-content-sha256',
      ],
      MaxAge: 600,
    });

    this.config = {
      apiUrl: props.apiUrl,
      auth: 'cognito',
      region: stack.region,
      userPoolId: this.userPool.userPoolId,
      userPoolClientId: this.userPoolClient.userPoolClientId,
      identityPoolId: this.identityPool.ref,
    };
    new CfnOutput(this, 'DashboardUrl', { value: this.url, description: 'Offpeak web dashboard' });
    new CfnOutput(this, 'DashboardBucket', {
      value: this.bucket.bucketName,
      description: 'Upload web/dist and config.json here',
    });
    new CfnOutput(this, 'DashboardConfig', {
      value: stack.toJsonString(this.config),
      description: 'The dashboard config.json',
    });
    new CfnOutput(this, 'DashboardUserPoolId', {
      value: this.userPool.userPoolId,
      description: 'Add dashboard users here (admin-created)',
    });
  }
}
