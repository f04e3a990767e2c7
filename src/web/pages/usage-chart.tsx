import { Alert, Button, Center, Group, Loader, Paper, SegmentedControl, SimpleGrid, Text, Title } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Bar, CartesianGrid, ComposedChart, Line, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { Plan, UsageDay } from '../../client/sdk.ts';
import { api, usageKey } from '../api.ts';
import { problemText } from './organization-parts.tsx';

/** Usage over time on the billing page: peak connections a day against the allowance, and connection hours. */

const RANGES = { '30': 30, '90': 90, '365': 365 } as const;
type Range = keyof typeof RANGES;
const DAY_MS = 86_400_000;

const isoDay = (at: Date) => at.toISOString().slice(0, 10);

/** Every day of the range: days without a roll-up had no connections, and kept the counts before them. */
function fillDays(from: string, to: string, days: UsageDay[]): UsageDay[] {
  const byDay = new Map(days.map((d) => [d.day, d]));
  const filled: UsageDay[] = [];
  let counts = { members: days[0]?.members ?? 0, organizations: days[0]?.organizations ?? 0 };
  for (let at = Date.parse(from); at <= Date.parse(to); at += DAY_MS) {
    const day = isoDay(new Date(at));
    const known = byDay.get(day);
    if (known) counts = { members: known.members, organizations: known.organizations };
    filled.push(known ?? { day, peakConnections: 0, connectionMinutes: 0, ...counts });
  }
  return filled;
}

const shortDay = (day: string) => new Date(`${day}T00:00:00Z`).toLocaleDateString('en', { month: 'short', day: 'numeric', timeZone: 'UTC' });

function Figure({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {label}
      </Text>
      <Text size="lg" fw={700} data-testid={testId}>
        {value}
      </Text>
    </div>
  );
}

export function UsageHistory({ accountId, plan }: { accountId: string; plan: Plan }) {
  const [range, setRange] = useState<Range>('30');
  const to = isoDay(new Date());
  const from = isoDay(new Date(Date.parse(to) - (RANGES[range] - 1) * DAY_MS));
  const usage = useQuery({
    queryKey: [...usageKey(accountId), from, to],
    queryFn: () => api.getUsage(accountId, { from, to }),
    placeholderData: keepPreviousData,
  });
  const days = usage.data ? fillDays(usage.data.from, usage.data.to, usage.data.days) : [];
  const points = days.map((d) => ({ ...d, connectionHours: Math.round((d.connectionMinutes / 60) * 10) / 10 }));
  const peak = Math.max(0, ...days.map((d) => d.peakConnections));
  const hours = days.reduce((sum, d) => sum + d.connectionMinutes, 0) / 60;
  return (
    <Paper withBorder radius="md" p="lg" shadow="xs" data-testid="usage-history">
      <Group justify="space-between" align="flex-end" mb="md" gap="sm">
        <div>
          <Title order={2} size="h4">
            Usage over time
          </Title>
          <Text size="sm" c="dimmed">
            Most connections open at once each day (UTC), against the {plan.name} allowance of {plan.connectionAllowance}, and the day's connection hours.
          </Text>
        </div>
        <Group gap="xs">
          <SegmentedControl
            size="xs"
            value={range}
            onChange={(value) => setRange(value as Range)}
            data={[
              { value: '30', label: '30 days' },
              { value: '90', label: '90 days' },
              { value: '365', label: '12 months' },
            ]}
            aria-label="Range"
          />
          <Button component="a" size="xs" variant="default" href={api.usageExportUrl(accountId, { from, to })} download data-testid="usage-csv">
            Export CSV
          </Button>
        </Group>
      </Group>
      {usage.isPending ? (
        <Center h={260}>
          <Loader size="sm" />
        </Center>
      ) : usage.isError ? (
        <Alert color="red" variant="light" title="Usage could not be loaded" data-testid="form-alert">
          {problemText(usage.error)}
        </Alert>
      ) : (
        <>
          <SimpleGrid cols={{ base: 2, sm: 4 }} spacing="md" mb="md">
            <Figure label="Highest peak" value={`${peak} of ${plan.connectionAllowance}`} testId="usage-peak" />
            <Figure label="Connection hours" value={hours.toLocaleString('en', { maximumFractionDigits: 1 })} testId="usage-hours" />
            <Figure label="Team members" value={String(days.at(-1)?.members ?? 0)} testId="usage-members-now" />
            <Figure label="Organizations" value={String(days.at(-1)?.organizations ?? 0)} testId="usage-organizations-now" />
          </SimpleGrid>
          <div className="usage-chart" role="img" aria-label={`Peak connections per day from ${from} to ${to}; highest ${peak}`} data-testid="usage-chart">
            <ResponsiveContainer width="100%" height={260}>
              <ComposedChart data={points} margin={{ top: 8, right: 8, bottom: 0, left: -16 }}>
                <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="var(--mantine-color-gray-3)" />
                <XAxis dataKey="day" tickFormatter={shortDay} minTickGap={24} tick={{ fontSize: 12 }} stroke="var(--mantine-color-gray-6)" />
                <YAxis yAxisId="connections" allowDecimals={false} domain={[0, Math.max(plan.connectionAllowance, peak)]} tick={{ fontSize: 12 }} stroke="var(--mantine-color-gray-6)" />
                <YAxis yAxisId="hours" orientation="right" tick={{ fontSize: 12 }} stroke="var(--mantine-color-gray-5)" />
                <Tooltip
                  labelFormatter={(day) => shortDay(String(day))}
                  formatter={(value, name) => [String(value), name === 'peakConnections' ? 'Peak connections' : 'Connection hours']}
                />
                <ReferenceLine
                  yAxisId="connections"
                  y={plan.connectionAllowance}
                  stroke="var(--mantine-color-orange-6)"
                  strokeDasharray="6 4"
                  label={{ value: 'Allowance', position: 'insideTopLeft', fontSize: 12, fill: 'var(--mantine-color-orange-7)' }}
                />
                <Bar yAxisId="connections" dataKey="peakConnections" fill="var(--mantine-color-blue-5)" radius={[3, 3, 0, 0]} maxBarSize={28} isAnimationActive={false} />
                <Line yAxisId="hours" dataKey="connectionHours" stroke="var(--mantine-color-teal-6)" strokeWidth={2} dot={false} isAnimationActive={false} />
              </ComposedChart>
            </ResponsiveContainer>
          </div>
        </>
      )}
    </Paper>
  );
}
