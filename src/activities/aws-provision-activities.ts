import { createApiGatewaySteps } from './api-gateway-steps';
import { createIamSteps } from './iam-steps';
import { createMskSteps } from './msk-steps';
import { createNetworkSteps } from './aws-network-steps';
import { createSecretSteps } from './secret-steps';
import type { ApiGatewayPort } from '../ports/api-gateway';
import type { IamPort } from '../ports/iam';
import type { MskPort } from '../ports/msk';
import type { NetworkPort } from '../ports/network';
import type { SecretsPort } from '../ports/secrets';

export type { Mode } from './aws-step-helpers';
export type { EnsureRestApiInput } from './api-gateway-steps';
export type { EnsureIamRoleInput } from './iam-steps';
export type { EnsureKafkaClusterInput, KafkaClusterState } from './msk-steps';
export type { EnsureSecurityGroupsInput } from './aws-network-steps';
export type { EnsureSecretInput } from './secret-steps';

/**
 * The aws target's own steps (DESIGN 5), one room each: security groups (aws-network-steps),
 * the MSK cluster (msk-steps), the API token and SSH key (secret-steps), the IAM role and
 * profile (iam-steps), the API Gateway proxy (api-gateway-steps). Each looks before it acts,
 * finds by the name aws-resources.ts gives it, proves ownership by the pipeline tag, and in plan
 * mode only looks. No secret value leaves them: results carry names and ARNs only.
 */

export interface AwsProvisionPorts {
  network: NetworkPort;
  iam: IamPort;
  secrets: SecretsPort;
  msk: MskPort;
  apiGateway: ApiGatewayPort;
  /** How long ensureIamRole waits for a new instance profile to be visible (IAM is eventual). */
  profileWaitMs?: number;
}

export function createAwsProvisionActivities(ports: AwsProvisionPorts) {
  return {
    ...createNetworkSteps(ports),
    ...createMskSteps(ports),
    ...createSecretSteps(ports),
    ...createIamSteps(ports),
    ...createApiGatewaySteps(ports),
  };
}

export type AwsProvisionActivities = ReturnType<typeof createAwsProvisionActivities>;
