import { Context } from '@temporalio/activity';
import { API_PORT, awsNames, awsTags, invokeUrl, ownedBy } from '../domain/aws-resources';
import type { ResourceRecord, StepResult } from '../domain/provision-steps';
import type { ApiGatewayPort } from '../ports/api-gateway';
import { invalid, summaryOf, type Mode } from './aws-step-helpers';

/**
 * The aws target's API Gateway REST API: `{proxy+}` and `/` with ANY passed through to the client
 * host's ingest API, deployed to a stage.
 */

export interface EnsureRestApiInput {
  pipelineId: string;
  mode: Mode;
  region: string;
  stage: string;
  /** The client host's API, e.g. http://203.0.113.7:8082. */
  targetBaseUrl?: string;
}

export function createApiGatewaySteps(ports: { apiGateway: ApiGatewayPort }) {
  const { apiGateway } = ports;

  /** The REST API proxying ANY request to the client host's API, deployed to the stage. */
  async function ensureRestApi(input: EnsureRestApiInput): Promise<StepResult> {
    Context.current().heartbeat();
    const name = awsNames(input.pipelineId).restApi;
    const found = (await apiGateway.findRestApisByName(name)).sort((a, b) =>
      (a.createdDate ?? '').localeCompare(b.createdDate ?? ''),
    );
    const foreign = found.find((a) => !ownedBy(a.tags, input.pipelineId));
    if (foreign) {
      throw invalid(
        `REST API ${foreign.id} is named ${name} but not tagged for pipeline ${input.pipelineId}: remove it`,
      );
    }
    const deleteHow = (id: string) => `aws apigateway delete-rest-api --rest-api-id ${id}`;
    let api = found[0];
    const target = input.targetBaseUrl;
    const wired = async (apiId: string) => {
      const w = await apiGateway.proxyWiring(apiId);
      const want = target ? `${target}/{proxy}` : undefined;
      const wantRoot = target ? `${target}/` : undefined;
      return {
        // Both the root (`ANY /`) and `{proxy+}` pass through to the host, as putProxy wires them.
        ok:
          w.anyMethod &&
          w.integration?.type === 'HTTP_PROXY' &&
          (want === undefined || w.integration.uri === want) &&
          w.rootIntegration?.type === 'HTTP_PROXY' &&
          (wantRoot === undefined || w.rootIntegration.uri === wantRoot),
        deployed: (await apiGateway.stageDeployment(apiId, input.stage)) !== undefined,
      };
    };
    if (input.mode === 'plan') {
      if (!api) {
        const r: ResourceRecord = {
          kind: 'rest-api',
          id: name,
          outcome: 'create',
          detail: `{proxy+} ANY → ${target ?? 'the client host'}:${API_PORT}, stage ${input.stage}`,
        };
        return { resources: [r], summary: summaryOf([r]) };
      }
      const w = await wired(api.id);
      const r: ResourceRecord = {
        kind: 'rest-api',
        id: api.id,
        outcome: w.ok && w.deployed ? 'exists' : 'differs',
        detail: [
          w.ok ? '' : 'proxy wiring differs',
          w.deployed ? '' : `stage ${input.stage} missing`,
        ]
          .filter(Boolean)
          .join('; '),
        deleteHow: deleteHow(api.id),
      };
      return { resources: [r], summary: summaryOf([r]) };
    }
    if (!target) throw new Error('the client host has no public address to proxy to yet');
    let outcome: ResourceRecord['outcome'] = 'exists';
    if (!api) {
      api = await apiGateway.createRestApi({
        name,
        description: `pinpipe ${input.pipelineId}: the ingest API (Kafka REST Proxy v2) on the client host`,
        tags: awsTags(input.pipelineId, 'api'),
      });
      outcome = 'created';
    }
    const w = await wired(api.id);
    if (!w.ok) {
      await apiGateway.putProxy(api.id, target);
      if (outcome === 'exists') outcome = 'updated';
    }
    if (!w.ok || !w.deployed) {
      await apiGateway.deploy(api.id, input.stage, `pinpipe ${input.pipelineId} → ${target}`);
      if (outcome === 'exists') outcome = 'updated';
    }
    const url = invokeUrl(api.id, input.region, input.stage);
    const r: ResourceRecord = {
      kind: 'rest-api',
      id: api.id,
      outcome,
      detail: `${url} → ${target}`,
      deleteHow: deleteHow(api.id),
    };
    return {
      resources: [r],
      summary: summaryOf([r]),
      outputs: { invokeUrl: url, restApiId: api.id },
    };
  }

  return { ensureRestApi };
}
