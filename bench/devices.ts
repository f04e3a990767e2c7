import { expectStatus } from './fixtures.ts';

/**
 * The keyset-paginated device list of one organization (GET …/organizations/:o/devices): walks
 * the cursor from page 1 to page `page` once, checking every page on the way, and answers the
 * path of that page (with its cursor) for the load runs.
 */
export interface DeviceWalk {
  /** The request path of page 1 and of page `page`. */
  firstPath: string;
  pagePath: string;
  page: number;
  /** Mean ms per page of the walk (one request at a time). */
  meanPageMs: number;
  walkMs: number;
}

interface DevicePage {
  items: Array<{ id: string; name: string }>;
  nextCursor: string | null;
}

export async function walkDevicePages(
  baseUrl: string,
  cookie: string,
  target: { accountId: string; organizationId: string },
  options: { page: number; limit: number },
): Promise<DeviceWalk> {
  const base = `/api/v1/accounts/${target.accountId}/organizations/${target.organizationId}/devices?limit=${options.limit}`;
  const headers = { accept: 'application/json', cookie };
  let path = base;
  let previousKey: [string, string] | null = null;
  const started = performance.now();
  for (let n = 1; n < options.page; n++) {
    const page = (await expectStatus(await fetch(`${baseUrl}${path}`, { headers }), 200, `GET …/devices page ${n}`)) as DevicePage;
    if (page.items.length !== options.limit || !page.nextCursor) {
      throw new Error(`GET …/devices page ${n} answered ${page.items.length} devices${page.nextCursor ? '' : ' and no next cursor'}; expected ${options.limit} and more to come`);
    }
    // keyset order: (lower(name), id) strictly increasing across pages
    const first = page.items[0]!;
    const firstKey: [string, string] = [first.name.toLowerCase(), first.id];
    if (previousKey && !(previousKey[0] < firstKey[0] || (previousKey[0] === firstKey[0] && previousKey[1] < firstKey[1]))) {
      throw new Error(`GET …/devices page ${n} does not continue after page ${n - 1}`);
    }
    const last = page.items.at(-1)!;
    previousKey = [last.name.toLowerCase(), last.id];
    path = `${base}&cursor=${encodeURIComponent(page.nextCursor)}`;
  }
  const walkMs = performance.now() - started;
  const last = (await expectStatus(await fetch(`${baseUrl}${path}`, { headers }), 200, `GET …/devices page ${options.page}`)) as DevicePage;
  if (last.items.length !== options.limit) throw new Error(`GET …/devices page ${options.page} answered ${last.items.length} devices, not ${options.limit}`);
  return { firstPath: base, pagePath: path, page: options.page, meanPageMs: options.page > 1 ? walkMs / (options.page - 1) : NaN, walkMs };
}
