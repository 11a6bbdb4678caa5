/** plotly.js-basic-dist-min ships no types; the views use only the calls declared in ./plotly. */
declare module 'plotly.js-basic-dist-min' {
  const Plotly: unknown;
  export default Plotly;
}
