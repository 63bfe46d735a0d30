import {
  APIGatewayClient,
  APIGatewayServiceException,
  CreateDeploymentCommand,
  CreateResourceCommand,
  CreateRestApiCommand,
  DeleteMethodCommand,
  DeleteRestApiCommand,
  GetIntegrationCommand,
  GetMethodCommand,
  GetResourcesCommand,
  GetRestApiCommand,
  GetRestApisCommand,
  GetStageCommand,
  PutIntegrationCommand,
  PutMethodCommand,
  type Integration,
  type Method,
  type Resource,
  type RestApi,
} from '@aws-sdk/client-api-gateway';
import type { AwsConfig } from '../config';
import type { Tags } from '../ports/network';
import type { ApiGatewayPort, ProxyWiring, RestApiInfo } from '../ports/api-gateway';

export function createApiGatewayClient(aws: AwsConfig): APIGatewayClient {
  return new APIGatewayClient({
    region: aws.region,
    ...(aws.controlEndpoint ? { endpoint: aws.controlEndpoint } : {}),
    ...(aws.credentials ? { credentials: aws.credentials } : {}),
    maxAttempts: 3,
  });
}

const PROXY_PATH_PART = '{proxy+}';
const ANY = 'ANY';
const PROXY_METHOD_PARAMETERS: Record<string, boolean> = { 'method.request.path.proxy': true };
const PROXY_INTEGRATION_PARAMETERS: Record<string, string> = {
  'integration.request.path.proxy': 'method.request.path.proxy',
};

function toInfo(api: RestApi): RestApiInfo {
  return {
    id: api.id ?? '',
    name: api.name ?? '',
    tags: { ...(api.tags ?? {}) },
    ...(api.createdDate ? { createdDate: api.createdDate.toISOString() } : {}),
  };
}

function errorName(err: unknown): string {
  return (err as { name?: string }).name ?? '';
}

function sameRecord(a: Record<string, unknown> | undefined, b: Record<string, unknown>): boolean {
  const left = Object.entries(a ?? {});
  return left.length === Object.keys(b).length && left.every(([k, v]) => b[k] === v);
}

/** The method pinpipe wants: no authorization (the ingest API checks its own token). */
function methodMatches(m: Method | undefined, parameters: Record<string, boolean>): boolean {
  return (
    m !== undefined &&
    m.authorizationType === 'NONE' &&
    !m.apiKeyRequired &&
    !m.authorizerId &&
    sameRecord(m.requestParameters, parameters)
  );
}

interface WantedIntegration {
  uri: string;
  requestParameters: Record<string, string>;
}

function integrationMatches(i: Integration | undefined, want: WantedIntegration): boolean {
  return (
    i !== undefined &&
    i.type === 'HTTP_PROXY' &&
    i.httpMethod === ANY &&
    i.uri === want.uri &&
    sameRecord(i.requestParameters, want.requestParameters)
  );
}

/** The root (`/`) and its `{proxy+}` child among an API's resources. */
function layout(resources: Resource[]): { root: Resource; proxy?: Resource } {
  const root = resources.find((r) => r.path === '/' && r.id);
  if (!root?.id) throw new Error('the REST API has no root resource');
  const proxy = resources.find((r) => r.parentId === root.id && r.pathPart === PROXY_PATH_PART);
  return { root, ...(proxy ? { proxy } : {}) };
}

export class AwsApiGateway implements ApiGatewayPort {
  constructor(private readonly apigw: APIGatewayClient) {}

  async findRestApisByName(name: string): Promise<RestApiInfo[]> {
    const found: RestApiInfo[] = [];
    let position: string | undefined;
    do {
      // moto 5.2.5 ignores limit and position and returns every API in one page.
      const page = await this.apigw.send(new GetRestApisCommand({ limit: 500, position }));
      for (const api of page.items ?? []) if (api.name === name) found.push(toInfo(api));
      position = page.position;
    } while (position);
    return found;
  }

  async getRestApi(apiId: string): Promise<RestApiInfo | undefined> {
    try {
      return toInfo(await this.apigw.send(new GetRestApiCommand({ restApiId: apiId })));
    } catch (err) {
      if (errorName(err) === 'NotFoundException') return undefined;
      throw err;
    }
  }

  async createRestApi(input: {
    name: string;
    description: string;
    tags: Tags;
  }): Promise<RestApiInfo> {
    const out = await this.apigw.send(
      new CreateRestApiCommand({
        name: input.name,
        description: input.description,
        tags: input.tags,
        endpointConfiguration: { types: ['REGIONAL'] },
      }),
    );
    if (!out.id) throw new Error('CreateRestApi returned no API id');
    return toInfo(out);
  }

  async proxyWiring(apiId: string): Promise<ProxyWiring> {
    const { root, proxy } = layout(await this.resources(apiId));
    const integration = await this.anyIntegration(apiId, proxy);
    const rootIntegration = await this.anyIntegration(apiId, root);
    return {
      rootResourceId: root.id ?? '',
      ...(proxy?.id ? { proxyResourceId: proxy.id } : {}),
      anyMethod: proxy?.resourceMethods?.[ANY] !== undefined,
      ...(integration
        ? { integration: { type: integration.type ?? '', uri: integration.uri ?? '' } }
        : {}),
      ...(rootIntegration
        ? { rootIntegration: { type: rootIntegration.type ?? '', uri: rootIntegration.uri ?? '' } }
        : {}),
    };
  }

  async putProxy(apiId: string, baseUrl: string): Promise<void> {
    const base = baseUrl.replace(/\/+$/, '');
    let { root, proxy } = layout(await this.resources(apiId));
    if (!proxy) {
      try {
        proxy = await this.apigw.send(
          new CreateResourceCommand({
            restApiId: apiId,
            parentId: root.id,
            pathPart: PROXY_PATH_PART,
          }),
        );
      } catch (err) {
        // AWS refuses a second `{proxy+}` (someone made it since we read); moto 5.2.5 would
        // make a duplicate instead, which is why the resources are read first.
        if (errorName(err) !== 'ConflictException') throw err;
        ({ root, proxy } = layout(await this.resources(apiId)));
        if (!proxy) throw err;
      }
    }
    await this.ensureAny(apiId, proxy, PROXY_METHOD_PARAMETERS, {
      uri: `${base}/{proxy}`,
      requestParameters: PROXY_INTEGRATION_PARAMETERS,
    });
    await this.ensureAny(apiId, root, {}, { uri: `${base}/`, requestParameters: {} });
  }

  async stageDeployment(apiId: string, stageName: string): Promise<string | undefined> {
    try {
      const stage = await this.apigw.send(new GetStageCommand({ restApiId: apiId, stageName }));
      return stage.deploymentId;
    } catch (err) {
      if (errorName(err) === 'NotFoundException') return undefined;
      throw err;
    }
  }

  async deploy(apiId: string, stageName: string, description: string): Promise<string> {
    const out = await this.apigw.send(
      new CreateDeploymentCommand({ restApiId: apiId, stageName, description }),
    );
    if (!out.id) throw new Error('CreateDeployment returned no deployment id');
    return out.id;
  }

  async deleteRestApi(apiId: string): Promise<void> {
    try {
      await this.apigw.send(new DeleteRestApiCommand({ restApiId: apiId }));
    } catch (err) {
      if (errorName(err) === 'NotFoundException') return;
      // moto 5.2.5 answers DeleteRestApi of an unknown id with an HTML 500 (a KeyError), not
      // NotFoundException: GetRestApi, which says NotFound on both, decides.
      if (!(err instanceof APIGatewayServiceException) && !(await this.getRestApi(apiId))) return;
      throw err;
    }
  }

  /** GetResources with methods embedded, every page. */
  private async resources(apiId: string): Promise<Resource[]> {
    const all: Resource[] = [];
    let position: string | undefined;
    do {
      const page = await this.apigw.send(
        new GetResourcesCommand({ restApiId: apiId, embed: ['methods'], limit: 500, position }),
      );
      all.push(...(page.items ?? []));
      position = page.position;
    } while (position);
    return all;
  }

  /** The ANY method's integration on `resource`, or undefined when either is absent. */
  private async anyIntegration(
    apiId: string,
    resource: Resource | undefined,
  ): Promise<Integration | undefined> {
    const method = resource?.resourceMethods?.[ANY];
    if (!resource?.id || !method) return undefined;
    if (method.methodIntegration) return method.methodIntegration;
    try {
      const out = await this.apigw.send(
        new GetIntegrationCommand({ restApiId: apiId, resourceId: resource.id, httpMethod: ANY }),
      );
      // AWS says NotFoundException for a method without integration; moto 5.2.5 answers `{}`.
      return out.type ? out : undefined;
    } catch (err) {
      if (errorName(err) === 'NotFoundException') return undefined;
      throw err;
    }
  }

  private async getAnyMethod(apiId: string, resourceId: string): Promise<Method | undefined> {
    try {
      return await this.apigw.send(
        new GetMethodCommand({ restApiId: apiId, resourceId, httpMethod: ANY }),
      );
    } catch (err) {
      if (errorName(err) === 'NotFoundException') return undefined;
      throw err;
    }
  }

  /**
   * Method ANY without authorization and an HTTP_PROXY integration on `resource`, each written
   * only when absent or different. A differing method is deleted (with its integration) and put
   * again: AWS refuses PutMethod over an existing method (ConflictException) while moto 5.2.5
   * overwrites, and moto has no UpdateMethod; nothing changes for callers before `deploy`.
   */
  private async ensureAny(
    apiId: string,
    resource: Resource,
    methodParameters: Record<string, boolean>,
    want: WantedIntegration,
  ): Promise<void> {
    const resourceId = resource.id ?? '';
    let method = resource.resourceMethods?.[ANY];
    let integration = await this.anyIntegration(apiId, resource);
    if (!methodMatches(method, methodParameters)) {
      if (method) {
        try {
          await this.apigw.send(
            new DeleteMethodCommand({ restApiId: apiId, resourceId, httpMethod: ANY }),
          );
        } catch (err) {
          if (errorName(err) !== 'NotFoundException') throw err;
        }
      }
      integration = undefined;
      try {
        method = await this.apigw.send(
          new PutMethodCommand({
            restApiId: apiId,
            resourceId,
            httpMethod: ANY,
            authorizationType: 'NONE',
            apiKeyRequired: false,
            requestParameters: methodParameters,
          }),
        );
      } catch (err) {
        // AWS: the method was put by someone else since we read. Keep it if it is ours.
        if (errorName(err) !== 'ConflictException') throw err;
        method = await this.getAnyMethod(apiId, resourceId);
        if (!methodMatches(method, methodParameters)) {
          throw new Error(
            `method ANY on resource ${resourceId} of REST API ${apiId} was changed concurrently ` +
              'and differs from the wanted one',
            { cause: err },
          );
        }
        integration = method?.methodIntegration;
      }
    }
    if (integrationMatches(integration, want)) return;
    // PutIntegration replaces an existing integration, on AWS and on moto.
    await this.apigw.send(
      new PutIntegrationCommand({
        restApiId: apiId,
        resourceId,
        httpMethod: ANY,
        type: 'HTTP_PROXY',
        integrationHttpMethod: ANY,
        uri: want.uri,
        requestParameters: want.requestParameters,
      }),
    );
  }
}
