import { Alert, Button, Code, Group, Paper, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useState, type ReactNode } from 'react';

/** Pieces of the Security page that its sections share (two-factor sign-in, passkeys). */

export const twoFactorKey = ['two-factor'] as const;
export const passkeysKey = ['passkeys'] as const;

/** One card of the Security page: a region named by its title. */
export function Section({ title, description, children }: { title: string; description: ReactNode; children: ReactNode }) {
  return (
    <Paper withBorder radius="md" p="xl" shadow="xs" component="section" aria-label={title}>
      <Stack gap={4} mb="md">
        <Title order={2} size="h4">
          {title}
        </Title>
        <Text c="dimmed" size="sm">
          {description}
        </Text>
      </Stack>
      {children}
    </Paper>
  );
}

/** Shown once after enrolling or making a new set: copy or download, then they are gone. */
export function RecoveryCodesPanel({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const text = `Tessera recovery codes (each works once)\n\n${codes.join('\n')}\n`;
  const [copied, setCopied] = useState(false);
  return (
    <Stack gap="sm">
      <Alert color="yellow" variant="light" title="Save your recovery codes now">
        Each code finishes a sign-in once if you lose your phone or your passkeys. They are shown only this time.
      </Alert>
      <SimpleGrid cols={2} spacing={6} data-testid="recovery-codes">
        {codes.map((code) => (
          <Code key={code} fz="sm" className="recovery-code">
            {code}
          </Code>
        ))}
      </SimpleGrid>
      <Group gap="sm">
        <Button variant="default" onClick={() => navigator.clipboard.writeText(text).then(() => setCopied(true), () => setCopied(false))}>
          {copied ? 'Copied' : 'Copy'}
        </Button>
        <Button variant="default" component="a" href={`data:text/plain;charset=utf-8,${encodeURIComponent(text)}`} download="tessera-recovery-codes.txt">
          Download
        </Button>
        <Button onClick={onDone}>I saved them</Button>
      </Group>
    </Stack>
  );
}
