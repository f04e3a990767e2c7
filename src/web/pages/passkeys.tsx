import { Alert, Badge, Button, Center, Group, Loader, PasswordInput, Stack, Text, TextInput } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import type { Passkey, PasskeyAdded, RegistrationCredential } from '../../shared/passkeys.ts';
import { api, meKey } from '../api.ts';
import { FormAlert, FormStack, useFormMutation } from '../forms.tsx';
import { KeyIcon, PlusIcon } from '../icons.tsx';
import { createPasskey, passkeysSupported, unlessRefused } from '../webauthn.ts';
import { passkeysKey, RecoveryCodesPanel, Section, twoFactorKey } from './security-parts.tsx';

/**
 * The person's passkeys on the Security page (docs/passkeys.md): each is a second factor after
 * the password and a sign-in without one. Adding and removing ask for the password and sign out
 * the person's other sessions; renaming asks for nothing.
 */

/** What a change of passkeys changes elsewhere: the list, the two-factor status, and (when it turns two-factor on or off) what the session may do. */
function useRefreshAfterChange() {
  const queryClient = useQueryClient();
  return (scope: { me: boolean }) =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: passkeysKey }),
      queryClient.invalidateQueries({ queryKey: twoFactorKey }),
      scope.me ? queryClient.invalidateQueries({ queryKey: meKey }) : null,
    ]);
}

export function PasskeysSection() {
  const passkeys = useQuery({ queryKey: passkeysKey, queryFn: () => api.listPasskeys() });
  const refresh = useRefreshAfterChange();
  // the first second factor comes with recovery codes, shown here once
  const [codes, setCodes] = useState<string[] | null>(null);
  const added = async ({ recoveryCodes }: PasskeyAdded) => {
    setCodes(recoveryCodes);
    await refresh({ me: false });
  };
  let body: ReactNode;
  if (codes) {
    // as with the app, an enrolment an account requires ends (and the rest of the page opens) once the codes are saved
    body = <RecoveryCodesPanel codes={codes} onDone={() => { setCodes(null); void refresh({ me: true }); }} />;
  } else if (passkeys.isPending) {
    body = <Center py="md"><Loader size="sm" /></Center>;
  } else if (passkeys.isError) {
    body = <Alert color="red" variant="light" title="Your passkeys could not be loaded">{passkeys.error.message}</Alert>;
  } else {
    body = (
      <Stack gap="lg">
        <PasskeyList passkeys={passkeys.data.items} />
        {passkeysSupported ? <AddPasskey onAdded={added} /> : <Text size="sm" c="dimmed">This browser cannot make passkeys. Add one from another browser or device.</Text>}
      </Stack>
    );
  }
  return (
    <Section title="Passkeys" description="A passkey signs you in with your fingerprint, face or device PIN, without your password. After your password, it is also your second factor.">
      {body}
    </Section>
  );
}

function PasskeyList({ passkeys }: { passkeys: Passkey[] }) {
  if (passkeys.length === 0) {
    return (
      <Text size="sm" c="dimmed" data-testid="no-passkeys">
        No passkeys yet.
      </Text>
    );
  }
  return (
    <Stack gap="sm" component="ul" className="plain-list" aria-label="Your passkeys">
      {passkeys.map((passkey) => (
        <PasskeyRow key={passkey.id} passkey={passkey} />
      ))}
    </Stack>
  );
}

/** One passkey: its name and dates, with Rename and Remove opening their form under it. */
function PasskeyRow({ passkey }: { passkey: Passkey }) {
  const [editing, setEditing] = useState<'rename' | 'remove' | null>(null);
  const lastUsed = passkey.lastUsedAt ? new Date(passkey.lastUsedAt).toLocaleDateString() : 'never';
  return (
    <Stack gap="sm" component="li" data-testid="passkey" aria-label={passkey.name}>
      <Group justify="space-between" wrap="nowrap" align="flex-start">
        <Group gap="sm" wrap="nowrap" align="flex-start">
          <KeyIcon size={18} />
          <div>
            <Group gap={6}>
              <Text size="sm" fw={600} data-testid="passkey-name">
                {passkey.name}
              </Text>
              {passkey.synced ? (
                <Badge size="sm" variant="light" color="indigo" title="Kept by a password manager on your other devices too">
                  Synced
                </Badge>
              ) : null}
            </Group>
            <Text size="xs" c="dimmed" data-testid="passkey-dates">
              Added {new Date(passkey.createdAt).toLocaleDateString()} · Last used {lastUsed}
            </Text>
          </div>
        </Group>
        <Group gap="xs" wrap="nowrap">
          <Button size="xs" variant="default" onClick={() => setEditing('rename')} disabled={editing !== null}>
            Rename
          </Button>
          <Button size="xs" variant="light" color="red" onClick={() => setEditing('remove')} disabled={editing !== null}>
            Remove
          </Button>
        </Group>
      </Group>
      {editing === 'rename' ? <RenamePasskey passkey={passkey} onClose={() => setEditing(null)} /> : null}
      {editing === 'remove' ? <RemovePasskey passkey={passkey} onClose={() => setEditing(null)} /> : null}
    </Stack>
  );
}

function RenamePasskey({ passkey, onClose }: { passkey: Passkey; onClose: () => void }) {
  const [name, setName] = useState(passkey.name);
  const refresh = useRefreshAfterChange();
  const { errors, mutation } = useFormMutation(['name'] as const, {
    mutationFn: () => api.renamePasskey(passkey.id, name),
    onSuccess: async () => {
      await refresh({ me: false });
      onClose();
    },
  });
  return (
    <FormStack label={`Rename ${passkey.name}`} onSubmit={() => mutation.mutate()}>
      <TextInput label="Name" autoComplete="off" autoFocus value={name} onChange={(e) => { setName(e.currentTarget.value); errors.clearField('name'); }} {...errors.field('name')} />
      <FormAlert problem={errors.problem} />
      <Group justify="flex-end" gap="sm">
        <Button variant="default" onClick={onClose}>
          Cancel
        </Button>
        <Button type="submit" loading={mutation.isPending}>
          Save name
        </Button>
      </Group>
    </FormStack>
  );
}

function RemovePasskey({ passkey, onClose }: { passkey: Passkey; onClose: () => void }) {
  const [password, setPassword] = useState('');
  const refresh = useRefreshAfterChange();
  const { errors, mutation } = useFormMutation(['password'] as const, {
    mutationFn: () => api.removePasskey(passkey.id, password),
    // the last second factor gone, an account that requires one limits this session again
    onSuccess: () => refresh({ me: true }),
  });
  return (
    <FormStack label={`Remove ${passkey.name}`} onSubmit={() => mutation.mutate()}>
      <Text size="sm">It stops working for Tessera at once; the device or password manager may keep it until you delete it there too.</Text>
      <PasswordInput label="Your password" autoComplete="current-password" autoFocus value={password} onChange={(e) => { setPassword(e.currentTarget.value); errors.clearField('password'); }} {...errors.field('password')} />
      <FormAlert problem={errors.problem} />
      <Group justify="flex-end" gap="sm">
        <Button variant="default" onClick={onClose}>
          Cancel
        </Button>
        <Button type="submit" color="red" variant="light" loading={mutation.isPending}>
          Remove passkey
        </Button>
      </Group>
    </FormStack>
  );
}

/** Adding a passkey: the password, then the browser's prompt, then an optional name. */
function AddPasskey({ onAdded }: { onAdded: (added: PasskeyAdded) => unknown }) {
  const [open, setOpen] = useState(false);
  const [credential, setCredential] = useState<RegistrationCredential | null>(null);
  const close = () => {
    setOpen(false);
    setCredential(null);
  };
  if (!open) {
    return (
      <Group justify="flex-end">
        <Button variant="default" leftSection={<PlusIcon size={16} />} onClick={() => setOpen(true)}>
          Add a passkey
        </Button>
      </Group>
    );
  }
  if (!credential) return <CreatePasskey onCreated={setCredential} onCancel={close} />;
  return (
    <NamePasskey
      credential={credential}
      onSaved={(added) => {
        close();
        return onAdded(added);
      }}
      onCancel={close}
    />
  );
}

/** The password, then the browser's prompt makes the passkey (on this device, a phone or a security key). */
function CreatePasskey({ onCreated, onCancel }: { onCreated: (credential: RegistrationCredential) => void; onCancel: () => void }) {
  const [password, setPassword] = useState('');
  const { errors, mutation } = useFormMutation(['password'] as const, {
    mutationFn: async () => createPasskey(await api.startPasskeyRegistration(password)),
    onSuccess: onCreated,
  });
  return (
    <FormStack label="Add a passkey" onSubmit={() => mutation.mutate()}>
      <Text size="sm">Your browser then asks where to keep the passkey: this device, your phone, or a security key.</Text>
      <PasswordInput label="Your password" autoComplete="current-password" autoFocus value={password} onChange={(e) => { setPassword(e.currentTarget.value); errors.clearField('password'); }} {...errors.field('password')} />
      <FormAlert problem={errors.problem} />
      <Group justify="flex-end" gap="sm">
        <Button variant="default" onClick={onCancel}>
          Cancel
        </Button>
        <Button type="submit" loading={mutation.isPending}>
          Continue
        </Button>
      </Group>
    </FormStack>
  );
}

/**
 * The passkey made, a name for it (optional: the server numbers it otherwise).
 * The server takes one answer per prompt, so after a failure here only Cancel and a new start help.
 */
function NamePasskey({ credential, onSaved, onCancel }: { credential: RegistrationCredential; onSaved: (added: PasskeyAdded) => unknown; onCancel: () => void }) {
  const [name, setName] = useState('');
  const { errors, mutation } = useFormMutation(['name'] as const, {
    mutationFn: () => unlessRefused(api.addPasskey({ name: name.trim() === '' ? undefined : name, credential }), 'The prompt may have waited too long. Cancel, then add it again.'),
    onSuccess: onSaved,
  });
  return (
    <FormStack label="Name the passkey" onSubmit={() => mutation.mutate()}>
      <TextInput
        label="Name (optional)"
        description="To tell your passkeys apart, e.g. “Work laptop”; left empty, it is numbered"
        autoComplete="off"
        autoFocus
        value={name}
        onChange={(e) => { setName(e.currentTarget.value); errors.clearField('name'); }}
        {...errors.field('name')}
      />
      <FormAlert problem={errors.problem} />
      <Group justify="flex-end" gap="sm">
        <Button variant="default" onClick={onCancel}>
          Cancel
        </Button>
        <Button type="submit" loading={mutation.isPending}>
          Save passkey
        </Button>
      </Group>
    </FormStack>
  );
}
