/**
 * Outgoing mail (invitations) through nodemailer to the SMTP server of
 * SMTP_URL. Without it, nothing is sent and the console shows links only.
 */
import type { Transporter } from 'nodemailer';
import { env } from '@/server/env.ts';
import { log } from '@/server/observability/log.ts';

const holder = globalThis as typeof globalThis & { __omsAuditMailer?: { url: string; transport: Transporter } };

export function mailConfigured(): boolean {
  return Boolean(env().SMTP_URL);
}

/** Loaded on first use: processes that send no mail (the CLI, most servers) do not pay for nodemailer. */
async function transport(): Promise<Transporter> {
  const url = env().SMTP_URL!;
  if (holder.__omsAuditMailer?.url !== url) {
    const { default: nodemailer } = await import('nodemailer');
    holder.__omsAuditMailer = { url, transport: nodemailer.createTransport(url) };
  }
  return holder.__omsAuditMailer.transport;
}

/** Sends one plain-text mail; false (logged, not thrown) when the server refuses or cannot be reached. */
export async function sendMail(message: { to: string; subject: string; text: string }): Promise<boolean> {
  if (!mailConfigured()) return false;
  try {
    await (await transport()).sendMail({ from: env().SMTP_FROM, ...message });
    return true;
  } catch (err) {
    log().warn({ err: (err as Error)?.message }, 'sending mail failed');
    return false;
  }
}
