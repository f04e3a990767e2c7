import { Alert, Badge, Button, Center, Group, Loader, Paper, Progress, SimpleGrid, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { BillingDetails, BillingOverview, Invoice, Me, Plan } from '../../client/sdk.ts';
import { api, billingKey, invoicesKey } from '../api.ts';
import { CountrySelect, FormAlert, FormStack, useFormMutation } from '../forms.tsx';
import { can, rolesPhrase } from '../roles.ts';
import { AccountNotFound } from './organizations.tsx';
import { problemText } from './organization-parts.tsx';
import { ConfirmMutationDialog, formatDate, useDialog } from './team-parts.tsx';
import { UsageHistory } from './usage-chart.tsx';

/** Billing: the plan and what the account uses of it, other plans, billing details, invoices (owners, in person). */

export function money(amount: number, currency: string): string {
  return new Intl.NumberFormat('en', { style: 'currency', currency, minimumFractionDigits: amount % 100 === 0 ? 0 : 2 }).format(amount / 100);
}

function priceOf(plan: Plan): string {
  return `${money(plan.price.amount, plan.price.currency)} a ${plan.price.interval}`;
}

function Meter({ label, used, limit, testId }: { label: string; used: number; limit: number; testId: string }) {
  const share = Math.min(100, (used / limit) * 100);
  return (
    <div data-testid={testId}>
      <Group justify="space-between" gap="xs">
        <Text size="sm" fw={600}>
          {label}
        </Text>
        <Text size="sm" c={used >= limit ? 'orange.8' : 'dimmed'} data-testid={`${testId}-figures`}>
          {used} of {limit}
        </Text>
      </Group>
      <Progress value={share} color={used >= limit ? 'orange' : undefined} size="sm" mt={6} aria-label={`${label}: ${used} of ${limit}`} />
    </div>
  );
}

function CurrentPlan({ billing }: { billing: BillingOverview }) {
  const { plan, usage } = billing;
  return (
    <Paper withBorder radius="md" p="lg" shadow="xs" data-testid="current-plan">
      <Group justify="space-between" align="flex-start" mb="md">
        <div>
          <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
            Your plan
          </Text>
          <Title order={2} size="h3" data-testid="current-plan-name">
            {plan.name}
          </Title>
          <Text size="sm" c="dimmed">
            {priceOf(plan)} · since {formatDate(billing.planSince)}
          </Text>
        </div>
      </Group>
      <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="lg">
        <Meter label="Connections open" used={usage.connectionsInUse} limit={plan.connectionAllowance} testId="usage-connections" />
        <Meter label="Team members" used={usage.members} limit={plan.memberLimit} testId="usage-members" />
        <Meter label="Organizations" used={usage.organizations} limit={plan.organizationLimit} testId="usage-organizations" />
      </SimpleGrid>
    </Paper>
  );
}

function PlanCards({ billing, onChoose }: { billing: BillingOverview; onChoose: (plan: Plan) => void }) {
  return (
    <SimpleGrid cols={{ base: 1, sm: 2, md: 3 }} spacing="md" data-testid="plans">
      {billing.plans.map((plan) => {
        const current = plan.id === billing.plan.id;
        return (
          <Paper key={plan.id} withBorder radius="md" p="lg" className={current ? 'plan-card current' : 'plan-card'} aria-label={`Plan ${plan.name}`} data-testid="plan-card">
            <Group justify="space-between" gap="xs">
              <Text fw={700}>{plan.name}</Text>
              {current ? (
                <Badge variant="light" radius="sm">
                  Current
                </Badge>
              ) : null}
            </Group>
            <Text size="xl" fw={700} mt={4}>
              {money(plan.price.amount, plan.price.currency)}
              <Text span size="sm" c="dimmed" fw={400}>
                {' '}
                a {plan.price.interval}
              </Text>
            </Text>
            {plan.description ? (
              <Text size="sm" c="dimmed">
                {plan.description}
              </Text>
            ) : null}
            <Stack gap={2} mt="sm">
              <Text size="sm">{plan.connectionAllowance} connections at once</Text>
              <Text size="sm">{plan.memberLimit} team members</Text>
              <Text size="sm">{plan.organizationLimit} organizations</Text>
            </Stack>
            {current ? null : (
              <Button mt="md" fullWidth variant={plan.price.amount > billing.plan.price.amount ? 'filled' : 'default'} onClick={() => onChoose(plan)}>
                Change to {plan.name}
              </Button>
            )}
          </Paper>
        );
      })}
    </SimpleGrid>
  );
}

const DETAIL_FIELDS = ['legalName', 'addressLine1', 'addressLine2', 'postalCode', 'city', 'region', 'country', 'taxId', 'billingEmail'] as const;
type DetailField = (typeof DETAIL_FIELDS)[number];

function DetailsForm({ accountId, details }: { accountId: string; details: BillingDetails | null }) {
  const initial = Object.fromEntries(DETAIL_FIELDS.map((f) => [f, (details?.[f] as string | null | undefined) ?? ''])) as Record<DetailField, string>;
  const [values, setValues] = useState(initial);
  const [saved, setSaved] = useState(false);
  const queryClient = useQueryClient();
  const { errors, mutation } = useFormMutation(DETAIL_FIELDS, {
    mutationFn: () =>
      api.setBillingDetails(accountId, {
        legalName: values.legalName,
        addressLine1: values.addressLine1,
        ...(values.addressLine2.trim() ? { addressLine2: values.addressLine2 } : {}),
        postalCode: values.postalCode,
        city: values.city,
        ...(values.region.trim() ? { region: values.region } : {}),
        country: values.country,
        ...(values.taxId.trim() ? { taxId: values.taxId } : {}),
        billingEmail: values.billingEmail,
      }),
    onSuccess: async (result) => {
      setValues(Object.fromEntries(DETAIL_FIELDS.map((f) => [f, (result[f] as string | null) ?? ''])) as Record<DetailField, string>);
      setSaved(true);
      await queryClient.invalidateQueries({ queryKey: billingKey(accountId) });
    },
  });
  const set = (field: DetailField, value: string) => {
    setValues((v) => ({ ...v, [field]: value }));
    setSaved(false);
    errors.clearField(field);
  };
  const input = (field: DetailField, label: string, props: Record<string, unknown> = {}) => (
    <TextInput label={label} value={values[field]} onChange={(e) => set(field, e.currentTarget.value)} {...props} {...errors.field(field)} />
  );
  return (
    <FormStack label="Billing details" onSubmit={() => mutation.mutate()}>
      {input('legalName', 'Legal name', { autoComplete: 'organization' })}
      {input('addressLine1', 'Address', { autoComplete: 'address-line1', placeholder: 'Street and number' })}
      {input('addressLine2', 'Address, second line (optional)', { autoComplete: 'address-line2' })}
      <Group grow align="flex-start">
        {input('postalCode', 'Postal code', { autoComplete: 'postal-code' })}
        {input('city', 'City', { autoComplete: 'address-level2' })}
      </Group>
      <Group grow align="flex-start">
        {input('region', 'Region (optional)', { autoComplete: 'address-level1' })}
        <CountrySelect label="Country" value={values.country || null} onChange={(country) => set('country', country ?? '')} {...errors.field('country')} />
      </Group>
      {input('taxId', 'VAT number or tax id (optional)', { placeholder: 'e.g. DE123456789', classNames: { input: 'mono-input' } })}
      {input('billingEmail', 'Billing email', { type: 'email', autoComplete: 'email', description: 'Where invoices are sent' })}
      <FormAlert problem={errors.problem} />
      <Group justify="flex-end" gap="sm">
        {saved ? (
          <Text size="sm" c="teal.7" role="status" data-testid="saved">
            Billing details saved
          </Text>
        ) : null}
        <Button type="submit" loading={mutation.isPending}>
          Save billing details
        </Button>
      </Group>
    </FormStack>
  );
}

function InvoicesTable({ invoices }: { invoices: Invoice[] }) {
  if (invoices.length === 0) {
    return (
      <Text size="sm" c="dimmed" data-testid="no-invoices">
        No invoices yet: one is issued for each plan you change to.
      </Text>
    );
  }
  return (
    <Table.ScrollContainer minWidth={560} type="native">
      <Table verticalSpacing="xs" aria-label="Invoices" data-testid="invoices">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Number</Table.Th>
            <Table.Th>Plan</Table.Th>
            <Table.Th>Period</Table.Th>
            <Table.Th>Total</Table.Th>
            <Table.Th>Status</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {invoices.map((invoice) => (
            <Table.Tr key={invoice.id} data-testid="invoice-row">
              <Table.Td ff="monospace">{invoice.number}</Table.Td>
              <Table.Td>{invoice.planName}</Table.Td>
              <Table.Td>
                {formatDate(invoice.periodStart)} – {formatDate(invoice.periodEnd)}
              </Table.Td>
              <Table.Td>{money(invoice.total.amount, invoice.total.currency)}</Table.Td>
              <Table.Td>
                <Badge variant="light" color={invoice.status === 'paid' ? 'teal' : invoice.status === 'open' ? 'blue' : 'gray'} radius="sm">
                  {invoice.status}
                </Badge>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

export function BillingPage({ me, accountId }: { me: Me; accountId: string }) {
  const membership = me.accounts.find((a) => a.id === accountId);
  const allowed = membership !== undefined && can.manageBilling(membership);
  const billing = useQuery({ queryKey: billingKey(accountId), queryFn: () => api.getBilling(accountId), enabled: allowed, staleTime: 0 });
  const invoices = useQuery({ queryKey: invoicesKey(accountId), queryFn: () => api.listInvoices(accountId), enabled: allowed });
  const change = useDialog<Plan>();
  const queryClient = useQueryClient();
  useEffect(() => {
    document.title = `Billing · ${membership?.companyName ?? 'Account'} · Tessera`;
  }, [membership?.companyName]);

  if (!membership) return <AccountNotFound />;
  if (!allowed) {
    return (
      <>
        <Title order={1} size="h2">
          Billing
        </Title>
        <Alert color="gray" variant="light" data-testid="read-only-notice">
          You are {rolesPhrase(membership)}: only owners see billing.
        </Alert>
      </>
    );
  }
  return (
    <>
      <div>
        <Title order={1} size="h2">
          Billing
        </Title>
        <Text c="dimmed" size="sm" maw={660}>
          The plan of {membership.companyName}, what it uses of it, and the details printed on its invoices.
        </Text>
      </div>
      {billing.isPending ? (
        <Center py="xl">
          <Loader size="sm" />
        </Center>
      ) : billing.isError ? (
        <Alert color="red" variant="light" title="Billing could not be loaded" data-testid="form-alert">
          {problemText(billing.error)}
        </Alert>
      ) : (
        <>
          <CurrentPlan billing={billing.data} />
          <UsageHistory accountId={accountId} plan={billing.data.plan} />
          <Title order={2} size="h4" mt="sm">
            Plans
          </Title>
          <PlanCards billing={billing.data} onChoose={change.open} />
          <Paper withBorder radius="md" p="lg" shadow="xs">
            <Title order={2} size="h4" mb="md">
              Billing details
            </Title>
            <DetailsForm key={accountId} accountId={accountId} details={billing.data.details} />
          </Paper>
          <Paper withBorder radius="md" p="lg" shadow="xs">
            <Title order={2} size="h4" mb="sm">
              Invoices
            </Title>
            {invoices.data ? <InvoicesTable invoices={invoices.data} /> : <Loader size="sm" />}
          </Paper>
        </>
      )}
      <ConfirmMutationDialog
        opened={change.opened}
        onClose={change.close}
        target={change.target}
        run={(plan) => api.changePlan(accountId, plan.id)}
        onDone={() => Promise.all([queryClient.invalidateQueries({ queryKey: billingKey(accountId) }), queryClient.invalidateQueries({ queryKey: invoicesKey(accountId) })])}
        title={`Change to ${change.target?.name ?? 'this plan'}?`}
        confirmLabel={`Change to ${change.target?.name ?? 'plan'}`}
      >
        {change.target ? (
          <Text size="sm">
            {change.target.name} allows {change.target.connectionAllowance} connections at once, {change.target.memberLimit} team members and {change.target.organizationLimit}{' '}
            organizations, for {priceOf(change.target)}. The change applies at once and its first {change.target.price.interval} is invoiced today.
          </Text>
        ) : null}
      </ConfirmMutationDialog>
    </>
  );
}
