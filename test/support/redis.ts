/** The tests' Redis is the labs' own: a real redis-server on a free port (labs/shared). */
export * from '../../labs/shared/redis-server.ts';
