import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { apiRoutes } from '../lambdas/api.js';
import { EnvVars } from '../src/aws/table-schema.js';
import { BucketPrefixes } from './bucket-layout.js';
import { coreFunction, type OffpeakRuntime } from './core-function.js';
import { acknowledge } from './nag.js';
import type { OffpeakFunction } from './offpeak-function.js';
import { lambdaEntry } from './paths.js';

/** Props of {@link OffpeakApi}. */
export interface OffpeakApiProps {
  readonly runtime: OffpeakRuntime;
  /** Steady-state requests per second the API accepts. @default 50 */
  readonly throttleRateLimit?: number;
  /** Burst of requests the API accepts. @default 100 */
  readonly throttleBurstLimit?: number;
}

/** Access log fields: HTTP API `$context` variables, one JSON object per request. */
const ACCESS_LOG_FORMAT = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  routeKey: '$context.routeKey',
  method: '$context.httpMethod',
  path: '$context.path',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  error: '$context.error.message',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  userArn: '$context.identity.userArn',
};

/**
 * Offpeak's HTTP API (design §7): IAM (SigV4) authorization on every route (IAM is the API's default authorizer;
 * only a route that declares `auth: 'none'`, a signed webhook, opts out), one Lambda behind all routes, JSON access
 * logs with retention. Routes come from `apiRoutes` in `lambdas/api.ts`, the list the handler dispatches on.
 */
export class OffpeakApi extends Construct {
  readonly httpApi: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly handler: OffpeakFunction;
  readonly accessLogGroup: logs.LogGroup;
  /** The API's base URL (`https://<id>.execute-api.<region>.amazonaws.com/`). */
  readonly url: string;

  constructor(scope: Construct, id: string, props: OffpeakApiProps) {
    super(scope, id);
    const { runtime } = props;
    this.handler = coreFunction(this, 'Handler', runtime, {
      entry: lambdaEntry('api'),
      description: 'Offpeak HTTP API',
      // HTTP API integrations time out at 30 seconds.
      timeout: Duration.seconds(29),
      // Cancelling a submitted job terminates its Batch job; a chunk's log stream is found with DescribeJobs.
      batch: { terminate: true, read: true },
      // Submit and dry run check chunked inputs (HEAD, LIST, a 64 KiB sample); dry runs read nothing else.
      bucket: { read: [BucketPrefixes.inputs], write: [BucketPrefixes.payloads] },
      // GET /jobs/{id}/logs; retrying a failed job may complete its dead letter first.
      jobLogs: true,
    });
    // A message redrive sends the dead message back to its queue (dispatch is granted to every core function).
    this.handler
      .useQueue(EnvVars.intakeQueueUrl, runtime.queues.intakeQueue, 'send')
      .useQueue(EnvVars.eventsQueueUrl, runtime.queues.eventsQueue, 'send');

    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Offpeak batch jobs API (IAM authorization)',
      createDefaultStage: false,
      defaultAuthorizer: new HttpIamAuthorizer(),
    });
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: runtime.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: runtime.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit ?? 50, burstLimit: props.throttleBurstLimit ?? 100 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: apigw.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FORMAT)),
      },
    });
    this.url = this.stage.url;

    const integration = new HttpLambdaIntegration('Integration', this.handler.function);
    for (const route of apiRoutes) {
      const [added] = this.httpApi.addRoutes({
        path: route.path,
        methods: [apigwv2.HttpMethod[route.method]],
        integration,
        // IAM unless the route authenticates requests itself (signed webhooks declare auth 'none').
        ...(route.auth === 'none' ? { authorizer: new apigwv2.HttpNoneAuthorizer() } : {}),
      });
      if (route.auth === 'none' && added) {
        acknowledge(
          added,
          'AwsSolutions-APIG4',
          `${route.method} ${route.path} is declared auth 'none' in lambdas/routes: the handler verifies a request ` +
            'signature (webhooks), which IAM authorization would prevent callers outside AWS from sending.',
        );
      }
    }
  }
}
