export { PageSkeleton as default } from '@/components/console/page-skeleton.tsx';
