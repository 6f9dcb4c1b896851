/** Reads secret values (webhook signing secrets): Secrets Manager on AWS, a local file or the environment locally. */
export interface SecretSource {
  /**
   * @param arn a complete Secrets Manager secret ARN
   * @throws RetryableError when the secret cannot be read now; NonRetryableError when it does not exist
   */
  getSecret(arn: string): Promise<string>;
}
