// Which admin paths are the status page's files (served without the token: they carry no figures), apart from
// routes/ui.ts so that the listener can tell before the routes are loaded.

export function isUiPath(pathname: string): boolean {
  return pathname === '/' || pathname.startsWith('/ui/');
}
