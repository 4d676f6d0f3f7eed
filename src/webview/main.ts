// Results panel app: filled in by the webview work.
export {};
