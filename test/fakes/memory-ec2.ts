import type { Ec2Port, InstanceInfo, RunInstanceInput } from '../../src/ports/ec2';
import { Faults, omit } from './faults';

export interface MemoryInstance extends InstanceInfo {
  launch: RunInstanceInput;
  /** Describes left before a pending instance is running. */
  pendingLooks: number;
  checksPass: boolean;
}

/**
 * Ec2Port in memory. A launched instance is `running` with passing status checks at once unless
 * `bootLooks` says how many describes it stays `pending`. Like moto, ClientToken is not
 * deduplicated: callers must find by tag first. Images are matched by name with `*` wildcards.
 */
export class MemoryEc2 implements Ec2Port {
  readonly instances = new Map<string, MemoryInstance>();
  readonly faults = new Faults<keyof Ec2Port>();
  regions = ['us-east-1', 'eu-west-1'];
  images: { imageId: string; name: string; owner: string; created: string }[] = [
    {
      imageId: 'ami-0123456789abcdef0',
      name: 'al2023-ami-2023.6.20250101.0-kernel-6.1-x86_64',
      owner: 'amazon',
      created: '2025-01-01',
    },
  ];
  bootLooks = 0;
  checksPass = true;
  private seq = 0;
  private clock = Date.parse('2025-01-01T00:00:00Z');

  /** An instance made outside the activity under test (by hand, by an earlier run). */
  addInstance(tags: Record<string, string>, state = 'running'): MemoryInstance {
    const i = this.make({ imageId: this.images[0]!.imageId, instanceType: 't3.micro', tags });
    i.state = state;
    return i;
  }

  findInstancesByTag(key: string, value: string): Promise<InstanceInfo[]> {
    return this.faults.run('findInstancesByTag', () =>
      [...this.instances.values()]
        .filter((i) => i.tags[key] === value && i.state !== 'terminated')
        .map((i) => this.info(i)),
    );
  }

  runInstance(input: RunInstanceInput): Promise<InstanceInfo> {
    return this.faults.run('runInstance', () => this.info(this.make(input)));
  }

  describeInstance(instanceId: string): Promise<InstanceInfo | undefined> {
    return this.faults.run('describeInstance', () => {
      const i = this.instances.get(instanceId);
      if (!i) return undefined;
      if (i.state === 'pending' && i.pendingLooks-- <= 0) i.state = 'running';
      return this.info(i);
    });
  }

  terminateInstances(instanceIds: string[]): Promise<void> {
    return this.faults.run('terminateInstances', () => {
      for (const id of instanceIds) {
        const i = this.instances.get(id);
        if (i) i.state = 'terminated';
      }
    });
  }

  startInstances(instanceIds: string[]): Promise<void> {
    return this.faults.run('startInstances', () => {
      for (const id of instanceIds) {
        const i = this.instances.get(id);
        if (i && (i.state === 'stopped' || i.state === 'stopping')) i.state = 'running';
      }
    });
  }

  statusChecksPassed(instanceId: string): Promise<boolean> {
    return this.faults.run('statusChecksPassed', () => {
      const i = this.instances.get(instanceId);
      return i?.state === 'running' && i.checksPass;
    });
  }

  describeRegions(): Promise<string[]> {
    return this.faults.run('describeRegions', () => [...this.regions]);
  }

  describeImage(imageId: string): Promise<{ imageId: string; name?: string } | undefined> {
    return this.faults.run('describeImage', () => {
      const image = this.images.find((i) => i.imageId === imageId);
      return image ? { imageId: image.imageId, name: image.name } : undefined;
    });
  }

  latestImage(namePattern: string, owner: string): Promise<string | undefined> {
    return this.faults.run('latestImage', () => {
      const escape = (part: string) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
      const re = new RegExp(`^${namePattern.split('*').map(escape).join('.*')}$`);
      return this.images
        .filter((i) => i.owner === owner && re.test(i.name))
        .sort((a, b) => b.created.localeCompare(a.created))[0]?.imageId;
    });
  }

  private make(input: RunInstanceInput): MemoryInstance {
    const instanceId = `i-${(++this.seq).toString(16).padStart(17, '0')}`;
    this.clock += 1000;
    const i: MemoryInstance = {
      instanceId,
      state: this.bootLooks > 0 ? 'pending' : 'running',
      imageId: input.imageId,
      instanceType: input.instanceType,
      privateIp: `10.0.0.${this.seq}`,
      publicIp: `203.0.113.${this.seq}`,
      tags: { ...input.tags },
      launchTime: new Date(this.clock).toISOString(),
      launch: { ...input },
      pendingLooks: this.bootLooks,
      checksPass: this.checksPass,
    };
    this.instances.set(instanceId, i);
    return i;
  }

  private info(i: MemoryInstance): InstanceInfo {
    const info = omit(i, 'launch', 'pendingLooks', 'checksPass');
    return { ...info, tags: { ...info.tags } };
  }
}
