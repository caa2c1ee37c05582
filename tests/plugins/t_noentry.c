/* t_noentry.c - test fixture: a shared library without the invclip_plugin entry point. */
int t_noentry_something(void);
int t_noentry_something(void) { return 42; }
