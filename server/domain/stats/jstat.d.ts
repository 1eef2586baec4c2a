// jstat ships no types; this declares only the few functions distributions.ts calls, so nothing
// else in the codebase can lean on the library without going through that wrapper.
declare module "jstat" {
  interface JStat {
    normal: {
      cdf(x: number, mean: number, sd: number): number;
      inv(p: number, mean: number, sd: number): number;
      pdf(x: number, mean: number, sd: number): number;
    };
    studentt: { inv(p: number, df: number): number };
    chisquare: { cdf(x: number, df: number): number };
    /** Regularised incomplete beta function I_x(a, b). */
    ibeta(x: number, a: number, b: number): number;
    erfc(x: number): number;
  }
  const jStat: JStat;
  export default jStat;
}
