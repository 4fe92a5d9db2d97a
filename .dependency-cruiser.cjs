/**
 * The dependency rules of apps/ and libs/, checked by `npm run lint` (depcruise) and drawn by
 * `npm run graph`. `#libs/<name>` imports resolve through package.json `imports` with the
 * `source` condition (as the type checker does), so every edge between libs is seen.
 *
 * Infrastructure libs: common, config and database (below everything, no HTTP), http (the HTTP
 * adapter: problems, validation, route and DTO decorators; it may use auth's metadata),
 * observability (logs, metrics, readiness; its /metrics controller uses http's RequireScope) and
 * client (the generated npm package, imports nothing). Domain libs: auth, history, imports, jobs,
 * memberships, queue, reports, segments, users.
 */
const DOMAIN_LIBS = '^libs/(auth|history|imports|jobs|memberships|queue|reports|segments|users)/';
const NOT_HTTP_LIBS = '^libs/(?!http/)[^/]+/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Dependencies point one way: no module (file) reaches itself again through its imports.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'libs-not-to-apps',
      severity: 'error',
      comment: 'Libraries never import an app: apps compose libraries, not the other way round.',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'apps-not-to-each-other',
      severity: 'error',
      comment: 'The API and the worker are composed of libraries; neither imports the other.',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'libs-not-to-http',
      severity: 'error',
      comment:
        'HTTP is the edge: apps (controllers, DTOs) and observability use libs/http; domain and base libs never do ' +
        '(they raise domain errors, which libs/http maps to problems).',
      from: { path: NOT_HTTP_LIBS, pathNot: '^libs/observability/' },
      to: { path: '^libs/http/' },
    },
    {
      name: 'domain-libs-not-to-http-frameworks',
      severity: 'error',
      comment: 'Domain libs know nothing of HTTP servers or the OpenAPI document.',
      from: { path: DOMAIN_LIBS, pathNot: '^libs/auth/src/(auth\\.decorators|api-token\\.guard)\\.ts$' },
      to: { dependencyTypes: ['npm', 'npm-dev'], path: 'node_modules/(@nestjs/(swagger|platform-fastify)|fastify)/' },
    },
    {
      name: 'repository-stays-in-its-lib',
      severity: 'error',
      comment:
        "A lib's repositories (*.repository.ts) are used only inside that lib; other libs and apps use its services.",
      from: { path: '^(apps|libs)/([^/]+)/' },
      to: { path: '^libs/([^/]+)/.*\\.repository\\.ts$', pathNot: '^libs/$2/' },
    },
    {
      name: 'index-exports-no-repository',
      severity: 'error',
      comment: "A lib's index.ts (its public face) exports services, not repositories.",
      from: { path: '^libs/[^/]+/src/index\\.ts$' },
      to: { path: '\\.repository\\.ts$' },
    },
    {
      name: 'libs-through-their-index',
      severity: 'error',
      comment: 'Another lib is imported through its index (#libs/<name>), never by a path into its files.',
      from: { path: '^(apps|libs)/([^/]+)/' },
      to: { path: '^libs/([^/]+)/', pathNot: ['^libs/$2/', '^libs/[^/]+/src/index\\.ts$'] },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment: 'A source file nothing imports is dead code (entry points, specs, CLIs and migrations excepted).',
      from: {
        orphan: true,
        pathNot: [
          '\\.d\\.ts$',
          '\\.spec\\.ts$',
          '(^|/)main\\.ts$',
          '\\.cli\\.ts$',
          '^apps/api/src/data-source\\.ts$',
          '^libs/database/src/migrations/',
          '^libs/client/',
        ],
      },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every import resolves (a #libs/<name> that does not, would hide its edges from every rule).',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^libs/client/(src/generated|dist)/', '\\.spec\\.ts$'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      // package.json `imports` maps #libs/* under the `source` condition to the TypeScript sources.
      conditionNames: ['source', 'import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.d.ts'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {
      archi: { collapsePattern: '^(apps|libs)/[^/]+' },
      mermaid: { minify: false },
    },
  },
};
