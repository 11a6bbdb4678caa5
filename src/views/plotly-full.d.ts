/** plotly.js-dist-min ships no types; the views use only the calls declared in ./plotly. */
declare module 'plotly.js-dist-min' {
  const Plotly: unknown;
  export default Plotly;
}
