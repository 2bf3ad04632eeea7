/**
 * The console's navigation. A page joins the header by adding an entry here;
 * entries whose permission the user lacks in the active tenant are hidden.
 */
import type { Permission } from '@/server/auth/caller.ts';

export interface NavItem {
  href: string;
  label: string;
  permission: Permission;
}

export const NAV_ITEMS: NavItem[] = [
  { href: '/', label: 'Search', permission: 'events:read' },
  { href: '/saved', label: 'Saved searches', permission: 'events:read' },
  { href: '/exports', label: 'Exports', permission: 'events:export' },
  { href: '/integrity', label: 'Integrity', permission: 'events:read' },
  { href: '/retention', label: 'Retention', permission: 'retention:view' },
  { href: '/admin/api-keys', label: 'API keys', permission: 'keys:manage' },
  { href: '/admin/users', label: 'Users', permission: 'users:manage' },
  { href: '/admin/activity', label: 'Activity', permission: 'users:manage' },
  { href: '/admin/streams', label: 'Streams', permission: 'streams:manage' },
  { href: '/admin/personal-data', label: 'Personal data', permission: 'retention:manage' },
  { href: '/admin/system', label: 'System', permission: 'system:view' },
];
