import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BACKENDS } from '../support/databases.ts';
import { problemOf, registerPerson, startTestApp, STRONG_PASSWORD, uniqueEmail, type TestApp } from '../support/app.ts';
import { SmtpInbox } from '../support/smtp.ts';
import { INVITATION_RULE } from '../../src/server/domain/access/routes.ts';

const DAY_MS = 86_400_000;

for (const backend of BACKENDS) {
  describe(`invitations (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      // the invitation mail goes through a real SMTP listener (startTestApp wires its URL into smtpUrl)
      t = await startTestApp(backend);
    });
    after(() => t.close());

    let addresses = 0;
    /** A client from an address of its own, so one test's bad links never throttle another's. */
    const anonymous = () => t.client({ ip: `198.18.${Math.floor(++addresses / 250)}.${addresses % 250}` });

    /** Invitation mails to `email` received so far. */
    const mailsTo = (email: string) => t.inbox.messages.filter((m) => m.to.some((to) => to.toLowerCase() === email.toLowerCase()) && /invites you to/.test(m.subject));

    /** The link token of the mail after the first `seen` invitation mails to `email`, waiting for it. */
    async function linkAfter(email: string, seen: number): Promise<string> {
      const deadline = Date.now() + 5000;
      for (;;) {
        const mails = mailsTo(email);
        if (mails.length > seen) return SmtpInbox.linkToken(mails[seen]!);
        if (Date.now() > deadline) throw new Error(`no invitation mail #${seen + 1} to ${email}`);
        await sleep(10);
      }
    }

    /** An owner with an organization, who invites `email` as a viewer of it; answers the mailed token. */
    async function invite(email = uniqueEmail('invited'), role: 'viewer' | 'manager' | 'owner' = 'viewer') {
      const owner = await registerPerson(t, { name: 'Olivia Owner', companyName: 'Inviting GmbH' });
      const lab = await owner.client.createOrganization(owner.account.id, { name: 'Lab' });
      const seen = mailsTo(email).length;
      const invitation = await owner.client.createInvitation(owner.account.id, role === 'owner' ? { email, role } : { email, role, organizationId: lab.id });
      const token = await linkAfter(email, seen);
      return { owner, lab, email, invitation, token };
    }

    const invalidToken = async (promise: Promise<unknown>) => {
      const problem = await problemOf(promise);
      assert.equal(problem.status, 400);
      assert.deepEqual(problem.fieldErrors.map((e) => [e.field, e.code]), [['token', 'invalid_token']]);
    };

    it('mails a link; the preview shows it; accepting signs up a new person with the scoped role and a confirmed email', async () => {
      const { owner, lab, email, invitation, token } = await invite();
      assert.deepEqual([invitation.email, invitation.status, invitation.invitedBy?.name], [email, 'pending', 'Olivia Owner']);
      assert.deepEqual(invitation.grant, { role: 'viewer', scope: 'organization', scopeId: lab.id, scopeName: 'Lab' });
      assert.equal(Date.parse(invitation.expiresAt) - Date.parse(invitation.createdAt), 7 * DAY_MS, 'valid for 7 days');
      const mail = mailsTo(email)[0]!;
      assert.equal(mail.subject, 'Olivia Owner invites you to Inviting GmbH on Tessera');
      assert.match(mail.text, /http:\/\/portal\.test\/invitations\/accept\?token=tsr_inv_/);
      assert.match(mail.text, /as viewer of organization Lab/);
      assert.deepEqual((await owner.client.listInvitations(owner.account.id)).map((i) => [i.id, i.status]), [[invitation.id, 'pending']]);
      const stored = await t.db.database.inTenant(owner.account.id, (tx) => tx.selectFrom('invitations').select('token_hash').where('id', '=', invitation.id).executeTakeFirstOrThrow());
      assert.equal(Buffer.from(stored.token_hash).length, 32, 'only a SHA-256 hash is stored');

      const visitor = anonymous();
      const preview = await visitor.lookupInvitation(token);
      assert.deepEqual(preview, {
        email,
        accountName: 'Inviting GmbH',
        grant: { role: 'viewer', scope: 'organization', scopeId: lab.id, scopeName: 'Lab' },
        invitedBy: 'Olivia Owner',
        expiresAt: invitation.expiresAt,
        existingUser: false,
      });

      const weak = await problemOf(visitor.acceptInvitation({ token, name: 'New Person', password: 'password1' }));
      assert.deepEqual(weak.fieldErrors.map((e) => [e.field, e.code]), [['password', 'common_password']]);
      const missing = await problemOf(visitor.acceptInvitation({ token }));
      assert.deepEqual(missing.fieldErrors.map((e) => e.field).sort(), ['name', 'password']);

      const accepted = await visitor.acceptInvitation({ token, name: 'New Person', password: STRONG_PASSWORD });
      assert.equal(accepted.accountId, owner.account.id);
      assert.equal(accepted.user.email, email);
      assert.ok(accepted.csrfToken, 'a sign-up starts a session');
      const me = await visitor.me();
      assert.deepEqual([me.user.email, me.user.name, me.user.emailVerified], [email, 'New Person', true]);
      assert.deepEqual(me.accounts, [
        { id: owner.account.id, companyName: 'Inviting GmbH', country: 'GB', role: null, grants: [{ role: 'viewer', scope: 'organization', scopeId: lab.id, scopeName: 'Lab' }] },
      ]);
      assert.equal((await visitor.listDevices(owner.account.id, lab.id)).items.length, 0, 'reads the organization of the grant');
      assert.equal((await problemOf(visitor.createDevice(owner.account.id, lab.id, { name: 'x', kind: 'usb', identifier: 'X-1' }))).status, 403);
      const elsewhere = await owner.client.createOrganization(owner.account.id, { name: 'Elsewhere' });
      assert.equal((await problemOf(visitor.listDevices(owner.account.id, elsewhere.id))).status, 404, 'and nothing else');
      // the password works for later sign-ins
      await t.client().signIn({ email, password: STRONG_PASSWORD });

      assert.deepEqual(await owner.client.listInvitations(owner.account.id), [], 'an accepted invitation leaves the list');
      assert.equal((await owner.client.listAccountUsers(owner.account.id)).find((u) => u.user.email === email)?.grants[0]?.scopeName, 'Lab');
      const events = await t.db.database.inTenant(owner.account.id, (tx) =>
        tx.selectFrom('audit_events').select(['action', 'actor_id']).where('target_type', '=', 'invitation').orderBy('id').execute(),
      );
      assert.deepEqual(events.map((e) => [e.action, e.actor_id]), [['invitation.created', owner.user.id], ['invitation.accepted', accepted.user.id]]);
      const registered = await t.db.database.db.selectFrom('user_audit_events').select('action').where('user_id', '=', accepted.user.id).execute();
      assert.ok(registered.some((e) => e.action === 'user.registered'));
    });

    it('works once', async () => {
      const { token, email, owner } = await invite();
      await anonymous().acceptInvitation({ token, name: 'First', password: STRONG_PASSWORD });
      await invalidToken(anonymous().acceptInvitation({ token, name: 'Second', password: 'another good pass 9' }));
      await invalidToken(anonymous().lookupInvitation(token));
      const signedIn = t.client();
      await signedIn.signIn({ email, password: STRONG_PASSWORD });
      await invalidToken(signedIn.acceptInvitation({ token }));
      const users = await owner.client.listAccountUsers(owner.account.id);
      assert.equal(users.filter((u) => u.user.email === email).length, 1);
    });

    it('expires after 7 days; a resend gives a fresh week', async () => {
      const { token, email, owner, invitation } = await invite();
      t.clock.advance(7 * DAY_MS - 60_000);
      const visitor = anonymous();
      assert.equal((await visitor.lookupInvitation(token)).email, email, 'still valid a minute before');
      t.clock.advance(120_000);
      await invalidToken(visitor.lookupInvitation(token));
      await invalidToken(visitor.acceptInvitation({ token, name: 'Late', password: STRONG_PASSWORD }));
      // the owner's session idled out meanwhile: sign in again
      const ownerNow = t.client();
      await ownerNow.signIn({ email: owner.email, password: STRONG_PASSWORD });
      const listed = await ownerNow.listInvitations(owner.account.id);
      assert.deepEqual(listed.map((i) => [i.id, i.status]), [[invitation.id, 'expired']]);
      const seen = mailsTo(email).length;
      const resent = await ownerNow.resendInvitation(owner.account.id, invitation.id);
      assert.equal(resent.status, 'pending');
      assert.equal(Date.parse(resent.expiresAt), t.clock.now().getTime() + 7 * DAY_MS);
      const fresh = await linkAfter(email, seen);
      await visitor.acceptInvitation({ token: fresh, name: 'On time', password: STRONG_PASSWORD });
    });

    it('resends with a new link; the old one stops working', async () => {
      const { token, email, owner, invitation } = await invite();
      const seen = mailsTo(email).length;
      await owner.client.resendInvitation(owner.account.id, invitation.id);
      const fresh = await linkAfter(email, seen);
      assert.notEqual(fresh, token);
      const visitor = anonymous();
      await invalidToken(visitor.lookupInvitation(token));
      await invalidToken(visitor.acceptInvitation({ token, name: 'Old link', password: STRONG_PASSWORD }));
      await visitor.acceptInvitation({ token: fresh, name: 'New link', password: STRONG_PASSWORD });
      assert.equal((await problemOf(owner.client.resendInvitation(owner.account.id, invitation.id))).status, 404, 'an accepted invitation is not resent');
      const actions = await t.db.database.inTenant(owner.account.id, (tx) => tx.selectFrom('audit_events').select('action').where('target_id', '=', invitation.id).orderBy('id').execute());
      assert.deepEqual(actions.map((a) => a.action), ['invitation.created', 'invitation.resent', 'invitation.accepted']);
    });

    it('revokes: the link stops working', async () => {
      const { token, owner, invitation, email } = await invite();
      await owner.client.revokeInvitation(owner.account.id, invitation.id);
      const visitor = anonymous();
      await invalidToken(visitor.lookupInvitation(token));
      await invalidToken(visitor.acceptInvitation({ token, name: 'Revoked', password: STRONG_PASSWORD }));
      assert.deepEqual(await owner.client.listInvitations(owner.account.id), []);
      assert.equal((await problemOf(owner.client.revokeInvitation(owner.account.id, invitation.id))).status, 404);
      assert.equal((await problemOf(owner.client.resendInvitation(owner.account.id, invitation.id))).status, 404);
      const users = await t.db.database.db.selectFrom('users').select('id').where('email', '=', email).execute();
      assert.equal(users.length, 0, 'nobody signed up');
      // a revoked invitation frees the address for a new one
      await owner.client.createInvitation(owner.account.id, { email, role: 'viewer' });
    });

    it('asks a person who already signs in to sign in first, then adds the account to theirs', async () => {
      const existing = await registerPerson(t, { companyName: 'Their Own Ltd' });
      const { token, owner, lab } = await invite(existing.email.toUpperCase(), 'manager');
      const visitor = anonymous();
      assert.equal((await visitor.lookupInvitation(token)).existingUser, true);
      const signedOut = await problemOf(visitor.acceptInvitation({ token, name: 'Again', password: 'another good pass 9' }));
      assert.equal(signedOut.status, 409);
      assert.deepEqual(signedOut.fieldErrors.map((e) => [e.field, e.code]), [['token', 'sign_in_required']]);
      const intruder = await registerPerson(t);
      const wrongPerson = await problemOf(intruder.client.acceptInvitation({ token }));
      assert.equal(wrongPerson.status, 403, 'signed in as another email');
      assert.equal((await intruder.client.me()).accounts.length, 1);

      const accepted = await existing.client.acceptInvitation({ token });
      assert.deepEqual([accepted.accountId, accepted.user.id, accepted.csrfToken], [owner.account.id, existing.user.id, undefined]);
      const me = await existing.client.me();
      assert.deepEqual(
        me.accounts.map((a) => [a.companyName, a.role, a.grants.map((g) => [g.role, g.scopeName])]).sort(),
        [['Inviting GmbH', null, [['manager', 'Lab']]], ['Their Own Ltd', 'owner', []]],
        'the new account is added, their own stays',
      );
      await existing.client.createDevice(owner.account.id, lab.id, { name: 'By the invitee', kind: 'usb', identifier: 'INV-1' });

      // one person, two accounts: in each only what the roles there allow
      const hidden = await owner.client.createOrganization(owner.account.id, { name: 'Not shared' });
      assert.deepEqual((await existing.client.listOrganizations(owner.account.id)).items.map((o) => o.name), ['Lab']);
      assert.equal((await problemOf(existing.client.listDevices(owner.account.id, hidden.id))).status, 404, 'an organization outside the role is not there');
      assert.equal((await problemOf(existing.client.updateAccount(owner.account.id, { companyName: 'Taken over' }))).status, 403);
      assert.equal((await problemOf(existing.client.getTeam(owner.account.id))).status, 403, 'team members need a role on the whole account');
      await existing.client.createOrganization(existing.account.id, { name: 'Mine' });
      assert.equal((await existing.client.updateAccount(existing.account.id, { companyName: 'Their Own Group' })).companyName, 'Their Own Group');
      assert.deepEqual((await existing.client.listOrganizations(existing.account.id)).items.map((o) => o.name), ['Mine']);
      const password = await t.db.database.db.selectFrom('users').select('password_hash').where('id', '=', existing.user.id).executeTakeFirstOrThrow();
      assert.ok(password.password_hash);
      await t.client().signIn({ email: existing.email, password: STRONG_PASSWORD }); // their password did not change
    });

    it('refuses a second pending invitation to the same address, and inviting a current user', async () => {
      const { owner, email } = await invite();
      const twice = await problemOf(owner.client.createInvitation(owner.account.id, { email: email.toUpperCase(), role: 'manager' }));
      assert.equal(twice.status, 409);
      assert.deepEqual(twice.fieldErrors.map((e) => [e.field, e.code]), [['email', 'already_invited']]);
      const self = await problemOf(owner.client.createInvitation(owner.account.id, { email: owner.email, role: 'viewer' }));
      assert.equal(self.status, 409);
      assert.deepEqual(self.fieldErrors.map((e) => [e.field, e.code]), [['email', 'already_member']]);
      const userEmail = uniqueEmail('user');
      await owner.client.addAccountUser(owner.account.id, { name: 'Current', email: userEmail, password: STRONG_PASSWORD, role: 'viewer' });
      const current = await problemOf(owner.client.createInvitation(owner.account.id, { email: userEmail, role: 'manager' }));
      assert.deepEqual([current.status, current.fieldErrors.map((e) => e.code)], [409, ['already_member']]);
      const ownerAtGroup = await problemOf(owner.client.createInvitation(owner.account.id, { email: uniqueEmail(), role: 'owner', groupId: '01900000-0000-7000-8000-000000000000' }));
      assert.equal(ownerAtGroup.status, 400);
      assert.equal((await owner.client.listInvitations(owner.account.id)).length, 1);
    });

    it(`throttles link guessing per address: after ${INVITATION_RULE.limit} bad links even a valid one is refused`, async () => {
      const { token } = await invite();
      const guesser = anonymous();
      for (let i = 0; i < INVITATION_RULE.limit; i++) {
        const guess = i % 2 === 0 ? `tsr_inv_${'x'.repeat(43)}_abcdef` : `guess-${i}`;
        await invalidToken(i % 4 < 2 ? guesser.lookupInvitation(guess) : guesser.acceptInvitation({ token: guess, name: 'G', password: STRONG_PASSWORD }));
      }
      const blocked = await problemOf(guesser.lookupInvitation(token));
      assert.equal(blocked.status, 429, 'the valid link is refused while the address is blocked');
      assert.equal((await problemOf(guesser.acceptInvitation({ token, name: 'Blocked', password: STRONG_PASSWORD }))).status, 429);
      // another address is not blocked, and the link was not spent
      assert.equal((await anonymous().lookupInvitation(token)).existingUser, false);
      t.clock.advance(INVITATION_RULE.blockMs + 1000);
      await guesser.acceptInvitation({ token, name: 'Patient', password: STRONG_PASSWORD });
    });

    it('lets only owners invite and see invitations', async () => {
      const { owner, invitation } = await invite();
      const a = owner.account.id;
      const managerEmail = uniqueEmail('manager');
      const viewerEmail = uniqueEmail('viewer');
      await owner.client.addAccountUser(a, { name: 'Manager', email: managerEmail, password: STRONG_PASSWORD, role: 'manager' });
      await owner.client.addAccountUser(a, { name: 'Viewer', email: viewerEmail, password: STRONG_PASSWORD, role: 'viewer' });
      for (const email of [managerEmail, viewerEmail]) {
        const client = t.client();
        await client.signIn({ email, password: STRONG_PASSWORD });
        assert.equal((await problemOf(client.createInvitation(a, { email: uniqueEmail(), role: 'viewer' }))).status, 403);
        assert.equal((await problemOf(client.listInvitations(a))).status, 403);
        assert.equal((await problemOf(client.resendInvitation(a, invitation.id))).status, 403);
        assert.equal((await problemOf(client.revokeInvitation(a, invitation.id))).status, 403);
      }
      const outsider = await registerPerson(t);
      assert.equal((await problemOf(outsider.client.createInvitation(a, { email: uniqueEmail(), role: 'viewer' }))).status, 404);
      assert.equal((await owner.client.listInvitations(a)).length, 1, 'only the first invitation exists');
    });
  });
}
