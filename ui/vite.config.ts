import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The window loads only what this build emits: no CDN, no remote fonts.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  build: { target: "safari15", outDir: "dist", emptyOutDir: true, assetsInlineLimit: 0 },
  test: { include: ["src/**/*.test.ts"] },
});
