import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges one cdk-nag finding on a construct (and its children), with the reason it is acceptable.
 *
 * cdk-nag 3 reads CDK's native acknowledgments (`Validations.of(scope).acknowledge`). Acknowledge one rule id at
 * a time, and for rules that report several findings (IAM5) one finding at a time
 * (`AwsSolutions-IAM5[Resource::*]`), on the narrowest construct that carries it.
 *
 * @example
 * acknowledge(logBucket, 'AwsSolutions-S1', 'This is the access-log bucket; logging it to itself would recurse.');
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  if (reason.trim().length < 20) throw new Error(`Acknowledgment of ${id} needs a real reason`);
  Validations.of(scope).acknowledge({ id, reason });
}

/** The metadata key under which CDK records acknowledgments (`{ [ruleId]: reason }`). */
export const ACKNOWLEDGMENT_METADATA_KEY = Validations.ACKNOWLEDGED_RULES_METADATA_KEY;

/**
 * How cdk-nag spells a (possibly tokenized) IAM resource in an IAM5 finding id: `Fn::GetAtt` as `<Id.Attr>`, `Ref`
 * as `<Id>`, joins flattened. Lets an acknowledgment name the exact resource instead of guessing logical ids.
 */
export function nagResourceName(scope: IConstruct, value: string): string {
  return flatten(Stack.of(scope).resolve(value));
}

function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const record = node as Record<string, unknown>;
    if (Array.isArray(record['Fn::Join'])) {
      const [delimiter, items] = record['Fn::Join'] as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    if (record['Fn::Sub'] !== undefined) return flatten(record['Fn::Sub']);
    if (Array.isArray(record['Fn::GetAtt'])) {
      const [resource, attribute] = record['Fn::GetAtt'] as [unknown, unknown];
      return `<${flatten(resource)}.${flatten(attribute)}>`;
    }
    if (record['Fn::ImportValue'] !== undefined) return flatten(record['Fn::ImportValue']);
    if (record.Ref !== undefined) return `<${flatten(record.Ref)}>`;
  }
  return JSON.stringify(node);
}
